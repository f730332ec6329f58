import Testing

@testable import Charts

@Suite struct ParetoFrontTests {
    @Test func keepsOnlyUndominatedPoints() {
        // (latency, quality): b is faster and better than c; d is the fastest; a the best.
        let cost = [10.0, 4, 6, 1, 4]
        let value = [0.99, 0.97, 0.96, 0.90, 0.97]
        #expect(ParetoFront.indices(cost: cost, value: value) == [3, 1, 4, 0])
    }

    /// Against the definition on random clouds: nothing on the front is dominated, everything off it is.
    @Test(arguments: 0..<20)
    func matchesTheDefinition(seed: Int) {
        var rng = SplitMix(seed: UInt64(seed))
        let n = 1 + Int(rng.next() % 30)
        let cost = (0..<n).map { _ in Double(rng.next() % 20) }
        let value = (0..<n).map { _ in Double(rng.next() % 20) }
        let front = Set(ParetoFront.indices(cost: cost, value: value))
        func dominates(_ j: Int, _ i: Int) -> Bool {
            cost[j] <= cost[i] && value[j] >= value[i] && (cost[j] < cost[i] || value[j] > value[i])
        }
        for i in 0..<n {
            let dominated = (0..<n).contains { dominates($0, i) }
            #expect(front.contains(i) == !dominated)
        }
        #expect(!front.isEmpty)
    }

    @Test func ignoresNonFinitePoints() {
        #expect(ParetoFront.indices(cost: [1, .nan, 2], value: [0.5, 1, .infinity]) == [0])
    }
}

/// A small deterministic generator for property tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
