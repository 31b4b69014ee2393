import Foundation
import Testing
@testable import Pare

/// Where Pare writes its files (issue #10): symlinks are written through, special files and
/// directories refused with a clear error, temporaries have short names, are removed on
/// SIGINT/SIGTERM and swept when their process is gone. Text files, model files and checkpoint
/// folders all follow the same rules (`OutputPath`).
@Suite struct OutputPathTests {
    static func scratch() -> String { Fixtures.temporaryDirectory().path }
    static func cleanUp(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

    /// A small model to save.
    static let checkpoint = CheckpointFixtures.checkpoint()

    static func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    static func fileType(_ path: String) -> FileType? {
        var info = stat()
        return lstat(path, &info) == 0 ? FileType(mode: info.st_mode) : nil
    }

    /// The names of Pare temporaries (and set-aside folders) in `dir`.
    static func leftovers(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".pare-") }
    }

    /// The message an `OutputPathError` thrown by `body` gives, or nil if `body` succeeds.
    static func refusal(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as OutputPathError {
            return error.description
        } catch {
            return "not an OutputPathError: \(error)"
        }
    }

    @Test func symlinkIsWrittenThroughToItsTarget() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        let target = dir + "/report.md", link = dir + "/latest.md"
        try "old\n".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "report.md")

        try AtomicFile.write("new\n", to: link)
        #expect(Self.fileType(link) == .symlink)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "report.md")
        #expect(try Self.contents(target) == "new\n")
        #expect(try Self.leftovers(dir).isEmpty)
    }

    @Test func modelIsWrittenThroughASymlink() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        let target = dir + "/model-v2.h5", link = dir + "/model.h5"
        try "placeholder".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)

        try Self.checkpoint.save(to: link)
        #expect(Self.fileType(link) == .symlink)
        #expect(try CheckpointReader.read(path: target).tensors == Self.checkpoint.tensors)
        #expect(try Self.leftovers(dir).isEmpty)
    }

    @Test func fifoIsRefusedWithoutOpeningIt() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        let fifo = dir + "/pipe"
        try #require(mkfifo(fifo, 0o644) == 0)
        // Opening a FIFO for writing would block until a reader came: the refusal must come first.
        #expect(Self.refusal { try AtomicFile.write("text", to: fifo) }
                == "cannot write \(fifo): it is a FIFO (named pipe), not a regular file")
        #expect(Self.refusal { try Self.checkpoint.save(to: fifo) }
                == "cannot write \(fifo): it is a FIFO (named pipe), not a regular file")
        #expect(Self.fileType(fifo) == .fifo)
        #expect(try Self.leftovers(dir).isEmpty)
    }

    @Test func characterDeviceIsRefused() throws {
        // Only checked, never written: /dev/null itself is asked about, and the writers are
        // tried through a symlink in a scratch folder, which the old code would merely replace.
        #expect(Self.refusal { _ = try OutputPath("/dev/null") }
                == "cannot write /dev/null: it is a character device, not a regular file")
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        let link = dir + "/out.h5"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/null")
        let expected = "cannot write \(link) (a symlink to /dev/null): it is a character device, not a regular file"
        #expect(Self.refusal { try AtomicFile.write("text", to: link) } == expected)
        #expect(Self.refusal { try Self.checkpoint.save(to: link) } == expected)
        #expect(Self.fileType(link) == .symlink)
        #expect(Self.fileType("/dev/null") == .characterDevice)
        #expect(try Self.leftovers(dir).isEmpty)
    }

    @Test func directoryAndMissingFolderAreNamed() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        #expect(Self.refusal { try AtomicFile.write("text", to: dir) } == "cannot write \(dir): it is a directory")
        #expect(Self.refusal { try Self.checkpoint.save(to: dir) } == "cannot write \(dir): it is a directory")
        let missing = dir + "/no-such-folder/out.md"
        #expect(Self.refusal { try AtomicFile.write("text", to: missing) }
                == "cannot write \(missing): folder \(dir)/no-such-folder: No such file or directory")
        let file = dir + "/plain"
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(Self.refusal { try AtomicFile.write("text", to: file + "/out.md") }
                == "cannot write \(file)/out.md: Not a directory")
    }

    @Test func longestLegalNamesWrite() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        for length in [248, 250, 252, 255] {
            let text = dir + "/" + String(repeating: "r", count: length - 3) + ".md"
            try AtomicFile.write("ok\n", to: text)
            #expect(try Self.contents(text) == "ok\n")
            let model = dir + "/" + String(repeating: "m", count: length - 3) + ".h5"
            try Self.checkpoint.save(to: model)
            #expect(try CheckpointReader.read(path: model).tensors == Self.checkpoint.tensors)
        }
        #expect(try Self.leftovers(dir).isEmpty)
    }

    @Test func staleTemporariesOfDeadProcessesAreSwept() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        // A process that has exited: its pid is free (and, so soon after, not yet reused).
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/sh")
        finished.arguments = ["-c", "exit 0"]
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier, alive = getppid()
        try #require(!TemporaryFiles.isRunning(dead))

        let staleFile = ".pare-tmp-\(dead)-1", staleFolder = ".pare-tmp-\(dead)-2"
        let live = ".pare-tmp-\(alive)-1"
        let notOurs = ["model.h5.pare-tmp-\(dead)-1", ".pare-tmp-\(dead)-1x", ".pare-tmp-\(dead)", ".pare-old-\(dead)-3"]
        for name in [staleFile, live] + notOurs {
            try "partial".write(toFile: dir + "/" + name, atomically: false, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: dir + "/" + staleFolder + "/inner", withIntermediateDirectories: true)

        try AtomicFile.write("text", to: dir + "/out.md")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(left == Set([live, "out.md"] + notOurs))
    }

    @Test func checkpointFolderFollowsTheSameRules() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        let model = try LLaDAModel(checkpoint: Self.checkpoint)
        let optimizer = AdamW(like: model)
        let folder = dir + "/run.train"
        for step in [1, 2] {
            try CheckpointFolder.save(model: model, optimizer: optimizer, vocab: Self.checkpoint.vocab,
                                      state: ["step": step], to: folder)
            #expect(try JSONDecoder().decode([String: Int].self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/state.json"))) == ["step": step])
        }
        #expect(try Self.leftovers(dir).isEmpty)
        #expect(try Self.leftovers(folder).isEmpty)

        let file = dir + "/taken.train"
        try "not a folder".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(Self.refusal {
            try CheckpointFolder.save(model: model, optimizer: optimizer, vocab: Self.checkpoint.vocab, state: ["step": 1], to: file)
        } == "cannot write \(file): it is a regular file, not a directory")
        #expect(try Self.contents(file) == "not a folder")
        #expect(try Self.leftovers(dir).isEmpty)
    }

    /// Two folders swap in one step (a checkpoint is never missing between two renames, even
    /// if the process dies there), and a replaced checkpoint leaves no `.pare-old-*` behind.
    @Test func foldersSwapAtomically() throws {
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        for (name, text) in [("a", "first"), ("b", "second")] {
            try FileManager.default.createDirectory(atPath: dir + "/" + name, withIntermediateDirectories: false)
            try text.write(toFile: dir + "/\(name)/state.json", atomically: false, encoding: .utf8)
        }
        try #require(OutputPath.exchange(dir + "/a", dir + "/b"), "renameat2(RENAME_EXCHANGE) is unavailable here")
        #expect(try Self.contents(dir + "/a/state.json") == "second" && Self.contents(dir + "/b/state.json") == "first")

        let model = try LLaDAModel(checkpoint: Self.checkpoint)
        for step in [1, 2, 3] {
            try CheckpointFolder.save(model: model, optimizer: AdamW(like: model), vocab: Self.checkpoint.vocab,
                                      state: ["step": step], to: dir + "/run.train")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".pare-") }.isEmpty)
    }

    /// `pare init` of a large model interrupted while it writes: the temporary goes and the exit
    /// status is 128 + the signal.
    @Test(arguments: [SIGINT, SIGTERM])
    func signalRemovesTheTemporaryInFlight(signal number: Int32) throws {
        let binary = try #require(SparseCommandLineTests.executable, "the pare executable is not next to the test bundle")
        let dir = Self.scratch()
        defer { Self.cleanUp(dir) }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["init", "--output", "big.h5", "--d-model", "256", "--n-layers", "64", "--d-ff", "1024"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while try Self.leftovers(dir).isEmpty && process.isRunning && Date() < deadline { usleep(2_000) }
        try #require(process.isRunning, "pare init finished before it could be interrupted")
        kill(process.processIdentifier, number)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + number)
        #expect(try Self.leftovers(dir).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir + "/big.h5"))
    }
}
