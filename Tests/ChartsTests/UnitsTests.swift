import Testing

@testable import Charts

@Suite struct UnitsTests {
    @Test(arguments: [
        (86_700_000.0, "86.7 MB"), (412_345, "412 kB"), (1_210_000_000, "1.21 GB"), (800, "800 B"), (345_600_000, "346 MB"),
    ])
    func bytes(_ value: Double, _ text: String) { #expect(Units.bytes(value) == text) }

    @Test(arguments: [(850.0, "850 µs"), (12_345, "12.3 ms"), (1_200_000, "1.20 s"), (4.56, "4.56 µs"), (999.4, "999 µs")])
    func durations(_ us: Double, _ text: String) { #expect(Units.duration(microseconds: us) == text) }

    @Test func numbersGroupThousands() {
        #expect(Units.number(1_234_567) == "1,234,567")
        #expect(Units.number(-4321) == "-4,321")
        #expect(Units.number(56.71) == "56.7")
        #expect(Units.rate(999.9) == "1,000/s")
        #expect(Units.ratio(1.934) == "×1.93")
        #expect(Units.percent(0.9149) == "91.49 %")
    }
}
