import Crypto
import Dispatch
import Foundation
import Synchronization

/// Every digest the verifier needs from one signed MP4, from a single read of the file:
/// the whole file's SHA-256, the signing digest of each instance (the file with its `meta`
/// box replaced by that instance's signing input), and the SHA-256 of consecutive runs
/// inside it (the export's segments in `mdat`). The file is read once, in 8 MiB chunks;
/// each chunk feeds the file hashes on one thread and the run hashes on another, so a
/// verification costs about one hash of the file in time, not three.
struct FileDigests {
    var whole: SHA256.Digest
    var signing: [SHA256.Digest]
    var runs: [SHA256.Digest]

    /// `meta` must lie within the file; `runs` must be ascending and not overlap. Reads are
    /// `chunkSize` bytes (tests make it small to cross every boundary).
    static func compute(
        _ file: FileHandle, size: Int64, meta: Range<Int64>, signingInputs: [[UInt8]],
        runs: [Range<Int64>], chunkSize: Int = 8 << 20
    ) throws -> FileDigests {
        guard meta.lowerBound >= 0, meta.upperBound <= size else { throw EvidenceError("the meta box lies outside the file") }
        guard zip(runs, runs.dropFirst()).allSatisfy({ $0.upperBound <= $1.lowerBound }), runs.allSatisfy({ $0.upperBound <= size }) else {
            throw EvidenceError("media runs out of order or outside the file")
        }
        // Each state is only ever touched by one thread at a time; the locks are never contended.
        let fileState = Mutex(FileState(meta: meta, inputs: signingInputs))
        let runState = Mutex(RunState(runs: runs))
        try file.seek(toOffset: 0)
        var offset: Int64 = 0
        while offset < size {
            guard let data = try file.read(upToCount: Int(min(Int64(chunkSize), size - offset))), !data.isEmpty else {
                throw EvidenceError("file ended \(size - offset) bytes early")
            }
            let chunk = [UInt8](data)
            let at = offset
            if runs.isEmpty {
                fileState.withLock { $0.consume(chunk, at: at) }
            } else {
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    if i == 0 { fileState.withLock { $0.consume(chunk, at: at) } } else { runState.withLock { $0.consume(chunk, at: at) } }
                }
            }
            offset += Int64(chunk.count)
        }
        // Empty runs at the very end (or in an empty file) close on no bytes at all.
        runState.withLock { $0.consume([], at: size) }
        let (whole, signing) = fileState.withLock { $0.finish() }
        let done = runState.withLock { $0.done }
        guard done.count == runs.count else { throw EvidenceError("media runs reach past the data read") }
        return FileDigests(whole: whole, signing: signing, runs: done)
    }

    /// The whole-file hash and the signing hashes: one shared state up to the meta box,
    /// then forked.
    struct FileState {
        let meta: Range<Int64>
        let inputs: [[UInt8]]
        var prefix = SHA256()
        var whole: SHA256?
        var signing: [SHA256] = []

        init(meta: Range<Int64>, inputs: [[UInt8]]) {
            self.meta = meta
            self.inputs = inputs
        }

        mutating func fork() {
            whole = prefix
            signing = inputs.map { input in
                var h = prefix
                h.update(data: input)
                return h
            }
        }

        mutating func consume(_ chunk: [UInt8], at offset: Int64) {
            let end = offset + Int64(chunk.count)
            func slice(_ a: Int64, _ b: Int64) -> ArraySlice<UInt8> { chunk[Int(a - offset)..<Int(b - offset)] }
            // Before the meta box: shared by every hash.
            if offset < meta.lowerBound {
                prefix.update(data: slice(offset, min(end, meta.lowerBound)))
            }
            if whole == nil, end >= meta.lowerBound { fork() }
            guard whole != nil else { return }
            // The meta box itself: only the whole-file hash reads it as stored.
            let inMeta = (max(offset, meta.lowerBound), min(end, meta.upperBound))
            if inMeta.0 < inMeta.1 { whole!.update(data: slice(inMeta.0, inMeta.1)) }
            // After it: every hash.
            if end > meta.upperBound {
                let after = slice(max(offset, meta.upperBound), end)
                whole!.update(data: after)
                for i in signing.indices { signing[i].update(data: after) }
            }
        }

        mutating func finish() -> (SHA256.Digest, [SHA256.Digest]) {
            if whole == nil { fork() }
            return (whole!.finalize(), signing.map { $0.finalize() })
        }
    }

    /// The run hashes: one open at a time, finished when its last byte has been read.
    struct RunState {
        let runs: [Range<Int64>]
        var current = SHA256()
        var done: [SHA256.Digest] = []

        init(runs: [Range<Int64>]) {
            self.runs = runs
        }

        mutating func consume(_ chunk: [UInt8], at offset: Int64) {
            let end = offset + Int64(chunk.count)
            while done.count < runs.count {
                let run = runs[done.count]
                let part = (max(offset, run.lowerBound), min(end, run.upperBound))
                if part.0 < part.1 { current.update(data: chunk[Int(part.0 - offset)..<Int(part.1 - offset)]) }
                guard run.upperBound <= end else { return }
                done.append(current.finalize())
                current = SHA256()
            }
        }
    }
}
