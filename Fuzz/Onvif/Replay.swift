#if !FUZZING
    import FuzzSupport

    /// Without libFuzzer: runs the files named on the command line through the target once.
    @main enum Replay {
        static func main() { FuzzInput.replay(fuzzOne) }
    }
#endif
