// The rule for text people type into the centre's records (camera names and places,
// exhibits' case references and purposes, hand-overs, notes, token names): bounded in
// length, no control characters, and no bidirectional overrides that would make a record
// read differently on screen than it is stored.

public enum TextField {
    /// Characters that reorder text when displayed (Unicode's explicit embeddings, overrides
    /// and isolates): a case reference must read as it was typed.
    static let bidiControls: ClosedRange<UInt32> = 0x202A...0x202E
    static let bidiIsolates: ClosedRange<UInt32> = 0x2066...0x2069

    /// Checks `text`, described to the user as `what`: at most `maximum` characters,
    /// not blank when `required`, and no control or reordering characters (line breaks and
    /// tabs only when `multiline`).
    public static func check(_ text: String, _ what: String, maximum: Int, required: Bool = true, multiline: Bool = false) throws {
        if required, text.allSatisfy(\.isWhitespace) { throw CentreError(.invalid, "\(what) is required") }
        guard text.count <= maximum else { throw CentreError(.invalid, "\(what) is at most \(maximum) characters (this one has \(text.count))") }
        for scalar in text.unicodeScalars {
            if multiline, scalar == "\n" || scalar == "\t" || scalar == "\r" { continue }
            let refused = scalar.properties.generalCategory == .control || bidiControls.contains(scalar.value)
                || bidiIsolates.contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
            guard !refused else {
                throw CentreError(.invalid, "\(what) may not contain control characters (U+\(String(scalar.value, radix: 16, uppercase: true)))")
            }
        }
    }
}
