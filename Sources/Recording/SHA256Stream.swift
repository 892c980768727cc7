import Crypto

/// Incremental SHA-256 over byte arrays (a thin wrapper so callers need not import Crypto).
struct SHA256Stream {
    private var hasher = SHA256()
    mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }
    func finalize() -> [UInt8] { Array(hasher.finalize()) }
}
