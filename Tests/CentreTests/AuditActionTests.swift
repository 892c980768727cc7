import Centre
import Testing

/// The audit vocabulary's names are what logs already hold: they must not drift.
@Suite struct AuditActionTests {
    /// A custody event's audit entry is named `evidence.<kind>`, as logs written before the
    /// vocabulary was typed name it (a verifier or a report filtering on the name finds both).
    @Test func custodyEventsKeepTheirNames() {
        for kind in CustodyKind.allCases {
            #expect(kind.auditAction.rawValue == "evidence." + kind.rawValue)
        }
        #expect(Set(CustodyKind.allCases.map(\.auditAction)).count == CustodyKind.allCases.count)
    }

    /// Every name is `area.what`, lower case with hyphens: what filters and the console's
    /// audit page split on.
    @Test func everyActionIsAreaDotWhat() {
        for action in AuditAction.allCases {
            let parts = action.rawValue.split(separator: ".", omittingEmptySubsequences: false)
            #expect(
                parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isLowercase || $0 == "-" } }, "\(action.rawValue)")
        }
    }
}
