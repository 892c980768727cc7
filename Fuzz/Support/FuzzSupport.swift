// FuzzSupport — what every libFuzzer target shares: turning the fuzzer's bytes into
// input, the driver, and a replay mode for the normal build.
//
// Each target under Fuzz/ is an executable with two entry points. Built by
// scripts/fuzz.sh (`-sanitize=fuzzer,address -D FUZZING -parse-as-library`), its
// `<Target>_main` hands control to libFuzzer (`LLVMFuzzerRunDriver`), which calls
// `LLVMFuzzerTestOneInput` with coverage-guided inputs. In the normal build (no FUZZING)
// its `@main` replays the files named on the command line once each: how a crash
// fuzz.sh found is run again, and how the tests run the corpus.

import Foundation
import Media
import NIOCore
import RTSP

public enum FuzzInput {
    /// The fuzzer's bytes as an array (an empty input may come as a null pointer).
    public static func bytes(_ start: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
        guard let start, count > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: start, count: count))
    }

    /// Splits `bytes` into records of `[16-bit big-endian length][that many bytes]`; a
    /// last record cut short keeps what there is.
    public static func records(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var at = 0
        while at + 2 <= bytes.count {
            let length = Int(bytes[at]) << 8 | Int(bytes[at + 1])
            let end = min(bytes.count, at + 2 + length)
            out.append(bytes[(at + 2)..<end])
            at = end
        }
        return out
    }

    /// Runs `test` once over each file named on the command line (each file of a named
    /// directory), and says how many it ran. A crash is the test failing.
    public static func replay(_ test: ([UInt8]) -> Void) {
        let fm = FileManager.default
        var count = 0
        for argument in CommandLine.arguments.dropFirst() where !argument.hasPrefix("-") {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("no such file: \(argument)\n".utf8))
                exit(2)
            }
            let files =
                isDirectory.boolValue
                ? ((try? fm.contentsOfDirectory(atPath: argument)) ?? []).sorted().map { "\(argument)/\($0)" } : [argument]
            for file in files {
                guard let data = fm.contents(atPath: file) else { continue }
                test([UInt8](data))
                count += 1
            }
        }
        print("replayed \(count) inputs")
    }

    #if FUZZING
        /// Hands the process to libFuzzer with `test` as its target (called from each target's
        /// `Fuzz<Target>_main`, the name SwiftPM gives an executable's entry point).
        public static func runLibFuzzer(
            _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
            _ test: @escaping ([UInt8]) -> Void
        ) -> CInt {
            target = test
            var argc = argc
            var argv = argv
            return llvmFuzzerRunDriver(&argc, &argv, llvmFuzzerTestOneInput)
        }

        /// The target libFuzzer runs. Set once, before libFuzzer starts, and only read after:
        /// libFuzzer calls its target from the one thread that set it.
        nonisolated(unsafe) static var target: ([UInt8]) -> Void = { _ in }
    #endif
}

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func llvmFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// libFuzzer's entry for each input.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func llvmFuzzerTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        FuzzInput.target(FuzzInput.bytes(start, count))
        return 0
    }
#endif

/// The depacketiser targets' body, one per codec: records are RTP packets, fed in order to
/// a depacketiser with no out-of-band parameter sets, so in-band SPS/PPS/VPS (and their
/// parsing) are fuzzed too. Frames must stay within the depacketiser's limit.
public enum DepacketizerFuzzing {
    public static func run(codec: VideoCodec, _ bytes: [UInt8]) {
        var depacketizer = VideoDepacketizer(codec: codec, parameters: nil)
        depacketizer.maxFrameBytes = 1 << 20
        for record in FuzzInput.records(bytes) {
            guard let packet = try? RTPPacket(parsing: ByteBuffer(bytes: record)) else { continue }
            do {
                try depacketizer.push(packet) { frame in
                    precondition(frame.frame.data.count <= 1 << 20, "a frame over the depacketiser's limit")
                }
            } catch {
                continue
            }
        }
    }
}
