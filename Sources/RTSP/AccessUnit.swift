import NIOCore

/// The access unit a depacketiser is assembling, kept as pieces rather than bytes: the
/// 4-byte length Vigil writes before each NAL unit, the header it rebuilds for a
/// fragmented one, and views of the packets' payloads (slices of the read buffers, not
/// copies). `take()` copies the pieces once into a buffer of exactly the frame's size.
///
/// Why: a frame must hold memory for its own bytes only, whatever a camera sent before it
/// (a reused, growing buffer handed over with each frame made every small frame hold the
/// largest one's capacity); and the depacketiser should add one copy of each received byte,
/// not two (assembling into a reused buffer and then copying it to an exact size cost the
/// recorder about 11 % more CPU; BENCHMARKS.md). Other copies are outside this type: the
/// session decoder's merge of a read onto a message the previous read cut, and compaction.
///
/// Bound: a slice keeps its whole read buffer alive; a camera that sends one tiny packet
/// per read between other data would otherwise pin a read buffer per packet. When what the
/// pieces pin exceeds `pinnedSlack` plus twice the unit's bytes, or they number more than
/// `maxPieces`, they are copied into `head`, an owned contiguous buffer, and released. So a
/// unit pins at most 1 MiB plus twice its bytes plus the last read buffer (and `head`, up
/// to `headKept`, stays for the next unit). Compaction copies what the pieces hold; with
/// `head` growing geometrically the extra copying stays linear in the bytes received.
struct AccessUnitPieces: Sendable {
    private enum Piece {
        case length(UInt32)
        case header(UInt8)
        case header2(UInt8, UInt8)
        case payload(ByteBuffer)
    }

    /// Compacted bytes that come before `pieces`.
    private var head = ByteBuffer()
    private var pieces: [Piece] = []
    /// Bytes of the unit so far (`head` and `pieces`).
    private(set) var byteCount = 0
    /// Capacity of the read buffers the pieces keep alive (consecutive slices of one
    /// buffer counted once).
    private(set) var pinnedByteCount = 0
    /// The read buffer the last payload slice came from.
    private var lastStorage: ObjectIdentifier?
    /// The fragmented NAL unit begun and not ended: its length field's byte offset in the
    /// unit and, until a compaction moves it into `head`, its piece; its header's first byte.
    private var openFragment: (byteOffset: Int, piece: Int?, header: UInt8)?
    /// Compactions since the unit was made: what tests look at to see the bound enforced.
    private(set) var compactions = 0
    /// Pieces held now (at most `maxPieces`, and the one that made a compaction).
    var pieceCount: Int { pieces.count }

    static let maxPieces = 4_096
    static let pinnedSlack = 1 << 20
    /// A `head` grown past this by a hostile unit is released rather than kept for the next.
    static let headKept = 1 << 20

    var isEmpty: Bool { byteCount == 0 }

    /// A whole NAL unit: its length, then its bytes.
    mutating func append(nal: ByteBuffer) {
        pieces.append(.length(UInt32(nal.readableBytes)))
        byteCount += 4
        append(payload: nal)
    }

    /// Starts a NAL unit whose bytes follow in fragments: a length written when it ends,
    /// then its rebuilt header (one byte for H.264, two for H.265).
    mutating func beginFragmentedNAL(header: UInt8, _ second: UInt8? = nil) {
        openFragment = (byteCount, pieces.count, header)
        pieces.append(.length(0))
        if let second {
            pieces.append(.header2(header, second))
            byteCount += 6
        } else {
            pieces.append(.header(header))
            byteCount += 5
        }
        compactIfPinningTooMuch()
    }

    /// Bytes of the open fragmented NAL unit, or of the last whole one.
    mutating func append(payload: ByteBuffer) {
        guard payload.readableBytes > 0 else { return }
        byteCount += payload.readableBytes
        let storage = payload.withVeryUnsafeBytesWithStorageManagement { _, storage in ObjectIdentifier(storage.takeUnretainedValue()) }
        if storage != lastStorage {
            pinnedByteCount += payload.storageCapacity
            lastStorage = storage
        }
        pieces.append(.payload(payload))
        compactIfPinningTooMuch()
    }

    /// Ends the open fragmented NAL unit; returns its bytes (header included) where
    /// `wantBytes` says so (parameter sets, which are kept), else nil.
    mutating func endFragmentedNAL(wantBytes: Bool) -> [UInt8]? {
        guard let open = openFragment else { return nil }
        openFragment = nil
        let length = UInt32(byteCount - open.byteOffset - 4)
        if let piece = open.piece {
            pieces[piece] = .length(length)
        } else {
            head.setInteger(length, at: open.byteOffset)
        }
        return wantBytes ? bytes(from: open.byteOffset + 4) : nil
    }

    /// A fragmented NAL unit has begun and not ended.
    var hasOpenFragment: Bool { openFragment != nil }

    /// The first byte of the open fragmented NAL unit's header.
    var openFragmentHeader: UInt8? { openFragment?.header }

    /// Forgets the open fragmented NAL unit (its start or a piece was lost; the unit is
    /// broken and will be dropped).
    mutating func abandonFragment() { openFragment = nil }

    /// The unit's bytes in one buffer of exactly their size; the unit is empty after.
    mutating func take() -> [UInt8] {
        let data = [UInt8](unsafeUninitializedCapacity: byteCount) { out, initialized in
            var at = 0
            func put(_ raw: UnsafeRawBufferPointer) {
                guard let from = raw.baseAddress, raw.count > 0 else { return }
                precondition(at + raw.count <= out.count, "access unit pieces run past the \(out.count) bytes counted")
                UnsafeMutableRawPointer(out.baseAddress! + at).copyMemory(from: from, byteCount: raw.count)
                at += raw.count
            }
            head.withUnsafeReadableBytes { put($0) }
            forEachPiece(put)
            precondition(at == byteCount, "access unit pieces add up to \(at) bytes, counted \(byteCount)")
            initialized = at
        }
        clear()
        return data
    }

    mutating func clear() {
        if head.capacity > Self.headKept { head = ByteBuffer() } else { head.clear() }
        pieces.removeAll(keepingCapacity: true) // at most `maxPieces` + 1: compaction keeps it so
        byteCount = 0
        pinnedByteCount = 0
        lastStorage = nil
        openFragment = nil
    }

    private mutating func compactIfPinningTooMuch() {
        guard pinnedByteCount > Self.pinnedSlack + 2 * byteCount || pieces.count > Self.maxPieces else { return }
        var compacted = head
        head = ByteBuffer() // `compacted` owns the storage alone: no copy on write
        compacted.reserveCapacity(minimumWritableBytes: byteCount - compacted.writerIndex)
        forEachPiece { compacted.writeBytes($0) }
        head = compacted
        compactions += 1
        pieces.removeAll(keepingCapacity: true)
        pinnedByteCount = head.capacity
        lastStorage = nil
        if let open = openFragment { openFragment = (open.byteOffset, nil, open.header) }
    }

    /// A copy of the unit's bytes from `offset` to its end.
    private func bytes(from offset: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(byteCount - offset)
        var at = 0
        func take(_ raw: UnsafeRawBufferPointer) {
            let end = at + raw.count
            if end > offset { out.append(contentsOf: raw[max(0, offset - at)...]) }
            at = end
        }
        head.withUnsafeReadableBytes { take($0) }
        forEachPiece(take)
        return out
    }

    /// The pieces' bytes, in order, as runs of memory (the one place a piece becomes bytes).
    private func forEachPiece(_ body: (UnsafeRawBufferPointer) -> Void) {
        for piece in pieces {
            switch piece {
            case let .length(value): withUnsafeBytes(of: value.bigEndian, body)
            case let .header(byte): withUnsafeBytes(of: byte, body)
            case let .header2(first, second): withUnsafeBytes(of: (first, second), body)
            case let .payload(bytes): bytes.withUnsafeReadableBytes(body)
            }
        }
    }
}
