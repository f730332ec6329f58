/// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies, and in greyscale print.
public enum Palette {
    public static let colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

    /// The colour of the `i`-th series (cycling).
    public static func colour(_ i: Int) -> String { colours[((i % colours.count) + colours.count) % colours.count] }

    /// Dash patterns that tell series apart when colours run out or the page is printed.
    public static func dash(_ i: Int) -> String? { [nil, "6 3", "2 3", "8 3 2 3"][(i / colours.count) % 4] }
}
