/// Character classes exactly as Hugging Face `tokenizers` (BertNormalizer, BertPreTokenizer) computes them.
///
/// HF takes general categories from the `unicode_categories` crate, whose tables are from an old Unicode
/// version and have no "unassigned" (Cn) table, while whitespace, lowercasing and NFD come from recent Rust
/// and `unicode-normalization` tables. So here:
/// - whitespace is the current White_Space property (Rust `char::is_whitespace`);
/// - "control" (removed by clean_text) is Cc, Cf, Co or Cs *as of `categoryTableVersion`*: scalars assigned
///   later count as unassigned, and unassigned scalars are kept, not removed;
/// - punctuation is ASCII punctuation or a P* category as of `categoryTableVersion`;
/// - accent stripping drops Mn as of `categoryTableVersion`.
/// `Tests/TokenizersTests` checks every code point against a table dumped from the `tokenizers` library.
enum UnicodeClasses {
    /// Unicode version of the `unicode_categories` crate tables used by HF. Found by comparing every code
    /// point with `tokenizers` 0.23.3: with 8.0 plus the overrides below all 1,112,064 scalars agree.
    static let categoryTableVersion = (major: 8, minor: 0)

    /// Scalars whose category changed after `categoryTableVersion`, with the category HF still sees.
    static let categoryOverrides: [UInt32: Unicode.GeneralCategory] = [
        0x166D: .otherPunctuation,  // CANADIAN SYLLABICS CHI SIGN: Po in the crate, So now
        0x111C9: .otherPunctuation,  // SHARADA SANDHI MARK: Po in the crate, Mn now
        0x1734: .nonspacingMark,  // HANUNOO SIGN PAMUDPOD: Mn in the crate, Mc now
        0x1171E: .nonspacingMark,  // AHOM CONSONANT SIGN MEDIAL RA: Mn in the crate, Mc now
        0x1885: .otherLetter,  // MONGOLIAN LETTER ALI GALI BALUDA: Lo in the crate, Mn now
        0x1886: .otherLetter,  // MONGOLIAN LETTER ALI GALI THREE BALUDA: Lo in the crate, Mn now
        0xA9BD: .spacingMark,  // JAVANESE VOWEL SIGN KELUAN: Mc in the crate, Mn now
    ]

    /// The general category HF sees, or nil when the scalar was unassigned in `categoryTableVersion`.
    @inline(__always)
    static func category(_ s: Unicode.Scalar) -> Unicode.GeneralCategory? {
        if let override = categoryOverrides[s.value] { return override }
        guard let age = s.properties.age else { return nil }
        if age.major > categoryTableVersion.major
            || (age.major == categoryTableVersion.major && age.minor > categoryTableVersion.minor)
        {
            return nil
        }
        return s.properties.generalCategory
    }

    /// Rust `char::is_whitespace` (the White_Space property); includes \t \n \r.
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x20: return true
        case 0..<0x80: return false
        default: return s.properties.isWhitespace
        }
    }

    /// What BertNormalizer's clean_text deletes: NUL, U+FFFD and "control" characters other than \t \n \r.
    @inline(__always)
    static func isRemovedByClean(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D) || v == 0x7F }
        if v == 0xFFFD { return true }
        switch category(s) {
        case .control?, .format?, .privateUse?, .surrogate?: return true
        default: return false
        }
    }

    /// BertPreTokenizer's punctuation: ASCII punctuation (including symbols like `$ + < = > ^ ` | ~`) or P*.
    @inline(__always)
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return isASCIIPunctuation(UInt8(v)) }
        switch category(s) {
        case .connectorPunctuation?, .dashPunctuation?, .openPunctuation?, .closePunctuation?,
            .initialPunctuation?, .finalPunctuation?, .otherPunctuation?:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isASCIIPunctuation(_ b: UInt8) -> Bool {
        (b >= 0x21 && b <= 0x2F) || (b >= 0x3A && b <= 0x40) || (b >= 0x5B && b <= 0x60) || (b >= 0x7B && b <= 0x7E)
    }

    /// Non-spacing marks, dropped when stripping accents.
    @inline(__always)
    static func isNonspacingMark(_ s: Unicode.Scalar) -> Bool {
        s.value >= 0x300 && category(s) == .nonspacingMark
    }

    /// BertNormalizer's "Chinese character": the CJK ideograph blocks (not Hangul, Hiragana or Katakana).
    @inline(__always)
    static func isChinese(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
