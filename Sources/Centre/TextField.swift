// The rule for text people type into the centre's records (camera names and places,
// exhibits' case references and purposes, hand-overs, notes, token names): bounded in
// length, no control characters, and no bidirectional overrides that would make a record
// read differently on screen than it is stored.

import Foundation

public enum TextField {
    /// Characters that reorder text when displayed (Unicode's explicit embeddings, overrides
    /// and isolates): a case reference must read as it was typed.
    static let bidiControls: ClosedRange<UInt32> = 0x202A...0x202E
    static let bidiIsolates: ClosedRange<UInt32> = 0x2066...0x2069

    /// Checks `text`, described to the user as `what`: at most `maximum` characters,
    /// not blank when `required`, and no control or reordering characters (line breaks and
    /// tabs only when `multiline`).
    public static func check(_ text: String, _ what: String, maximum: Int, required: Bool = true, multiline: Bool = false) throws {
        // Counted in code points too: one "character" may carry any number of combining marks.
        guard text.count <= maximum, text.unicodeScalars.count <= 2 * maximum else {
            throw CentreError(.invalid, "\(what) is at most \(maximum) characters (this one has \(text.count))")
        }
        for scalar in text.unicodeScalars {
            if multiline, scalar == "\n" || scalar == "\t" || scalar == "\r" { continue }
            let category = scalar.properties.generalCategory
            // Format characters hide or reorder text (bidi marks, zero-width spaces, tags);
            // the joiners that some scripts need are the exception.
            let refused = category == .control || category == .lineSeparator || category == .paragraphSeparator
                || (category == .format && scalar.value != 0x200C && scalar.value != 0x200D)
                || bidiControls.contains(scalar.value) || bidiIsolates.contains(scalar.value)
            guard !refused else {
                let code = String(format: "U+%04X", scalar.value)
                throw CentreError(.invalid, "\(what) may hold no line breaks, control or invisible formatting characters (found \(code))")
            }
        }
        if required, text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace || $0.properties.generalCategory == .format }) {
            throw CentreError(.invalid, "\(what) is required")
        }
    }
}
