import Foundation
import Testing
@testable import Pare

/// A model is one self-contained file (issue #10): external links, external storage and virtual
/// datasets would make Pare read another file than the one it was given (an external vocab link
/// made the heap pre-check read the wrong file; external storage loaded silently). Fixtures:
/// `Fixtures/reference/make_external.py` (h5py), each from tiny-gqa-f16.h5.
@Suite struct ExternalDataTests {
    static func loadError(_ name: String) -> String? {
        do {
            _ = try ModelFile.open(Fixtures.path("reference/external/\(name)"), residency: .resident)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        ("external-link-vocab.h5", "/tokenizer/vocab is an external link to another file"),
        ("external-link-group.h5", "/tokenizer is an external link to another file"),
        ("external-storage.h5", "/model/transformer/wte/weight keeps its values in external files"),
        ("virtual.h5", "/model/transformer/wte/weight is a virtual dataset"),
    ])
    func refusedWithTheObjectNamed(_ file: String, _ reason: String) throws {
        let error = try #require(Self.loadError(file), "\(file) loaded")
        #expect(error.contains(reason) && error.hasPrefix(Fixtures.path("reference/external/\(file)")), "\(error)")
    }

    /// The same refusal through the CLI: one line, exit 1.
    @Test func commandLineErrorIsOneLine() throws {
        let dir = Fixtures.temporaryDirectory().path
        let r = try SparseCommandLineTests.pare(["generate", "--model", Fixtures.path("reference/external/external-storage.h5"),
                                                 "--prompt", "1+2=", "--gen-length", "4"], in: dir)
        #expect(r.status == 1 && r.err.hasPrefix("error: ") && r.err.filter { $0 == "\n" }.count == 1, "\(r.err)")
        #expect(r.err.contains("keeps its values in external files"))
    }
}
