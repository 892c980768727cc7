import Base
import Foundation
import Testing

@Suite struct BaseTests {
    /// Hex is two lower-case digits a byte, in order, for every byte value.
    @Test func hexWritesEveryByteAsTwoLowerCaseDigits() {
        let all = (0...255).map { UInt8($0) }
        let text = hex(all)
        #expect(text.count == 512)
        #expect(text == all.map { String(format: "%02x", $0) }.joined())
        #expect(hex([UInt8]()) == "")
        #expect(hex([0xDE, 0xAD, 0xBE, 0xEF]) == "deadbeef")
    }

    /// Tokens are URL-safe base64 without padding, of the length their bytes make, and
    /// never the same twice.
    @Test func tokensAreURLSafeAndDistinct() {
        let tokens = (0..<200).map { _ in randomToken() }
        #expect(Set(tokens).count == tokens.count)
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(tokens.allSatisfy { $0.count == 43 && $0.allSatisfy(allowed.contains) })
        #expect(randomToken(bytes: 9).count == 12)
        #expect(randomHex(bytes: 16).count == 32)
    }
}
