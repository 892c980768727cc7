// The rule for text people type into the centre's records (camera names and places,
// exhibits' case references and purposes, hand-overs, notes, token names): bounded in
// length (in code points), no control characters, and no format characters (bidirectional
// overrides, zero-width ones, tags) that would make a record read differently on screen
// than it is stored. docs/openapi.json states the same rule as a pattern.

import Foundation

public enum TextField {
    /// Checks `text`, described to the user as `what`: at most `maximum` characters,
    /// not blank when `required`, and no control or reordering characters (line breaks and
    /// tabs only when `multiline`).
    public static func check(_ text: String, _ what: String, maximum: Int, required: Bool = true, multiline: Bool = false) throws {
        // Counted in code points, as JSON Schema's maxLength counts (docs/openapi.json): a
        // "character" as displayed may carry any number of combining marks.
        guard text.unicodeScalars.count <= maximum else {
            throw VigilError(.invalid, "\(what) is at most \(maximum) characters (this one has \(text.unicodeScalars.count))")
        }
        for scalar in text.unicodeScalars {
            if multiline, scalar == "\n" || scalar == "\t" || scalar == "\r" { continue }
            let category = scalar.properties.generalCategory
            // Format characters hide or reorder text (bidi marks, zero-width spaces and
            // joiners, tags): none belongs in a record that must read as it was typed.
            let refused = category == .control || category == .lineSeparator || category == .paragraphSeparator || category == .format
            guard !refused else {
                let code = String(format: "U+%04X", scalar.value)
                throw VigilError(.invalid, "\(what) may hold no line breaks, control or invisible formatting characters (found \(code))")
            }
        }
        if required, text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace || $0.properties.generalCategory == .format }) {
            throw VigilError(.invalid, "\(what) is required")
        }
    }
}
