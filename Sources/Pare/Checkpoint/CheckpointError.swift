/// Why a pare-dlm file could not be read or written. The description is one line that names the
/// file and, where it applies, the tensor or attribute (docs/format.md, "Loading").
public enum CheckpointError: Error, CustomStringConvertible, Sendable {
    /// The file does not exist, is a directory, or cannot be opened.
    case cannotOpen(file: String, reason: String)
    /// The file does not start with an HDF5 superblock (not HDF5 at all).
    case notHDF5(file: String)
    /// The file is shorter than the end-of-file address its HDF5 superblock records.
    case truncated(file: String, size: Int, expectedSize: Int)
    /// HDF5 could not read part of the file (damaged structure, failed checksum). `object` names
    /// the group, attribute or tensor being read, or is empty for the file as a whole.
    case corrupt(file: String, object: String, reason: String)
    /// The root attribute `format` is missing (nil) or not "pare-dlm".
    case wrongFormat(file: String, found: String?)
    /// The root attribute `format_version` is missing (nil) or not a version this Pare reads.
    case wrongVersion(file: String, found: String?)
    /// A required group (`/config`, `/model`) is missing.
    case missingGroup(file: String, group: String)
    /// A required attribute is missing, e.g. `/config` `d_model`.
    case missingAttribute(file: String, object: String, attribute: String)
    /// An attribute has the wrong kind or an unusable value.
    case badAttribute(file: String, object: String, attribute: String, reason: String)
    /// `/config` contradicts itself (see `ModelConfig.problem()`).
    case inconsistentConfig(file: String, problem: String)
    /// `/config` disagrees with the tensors, which are consistent with each other.
    case configMismatch(file: String, attribute: String, configValue: Int, impliedValue: Int, evidence: String)
    case missingTensor(file: String, tensor: String)
    case wrongShape(file: String, tensor: String, shape: [Int], expected: [Int])
    /// The tensor is not stored as IEEE float32 or float16.
    case wrongDType(file: String, tensor: String, found: String)
    /// The tensor holds NaN or infinite values: how many, and the first one.
    case nonFinite(file: String, tensor: String, count: Int, firstIndex: [Int], firstValue: Float)
    /// `/tokenizer` is missing, not of kind "char", or its vocabulary does not fit the config.
    case badTokenizer(file: String, reason: String)
    /// `/provenance` `history` is not a JSON array of objects.
    case badProvenance(file: String, reason: String)
    /// A sparse-encoded tensor (a group at a block linear's path) breaks its encoding's rules:
    /// unknown encoding, missing or extra datasets, sizes that disagree, indices out of range or
    /// unsorted, a mask that keeps more or fewer weights than there are values.
    case badSparseTensor(file: String, tensor: String, reason: String)
    /// `/model` holds something that is not one of the config's tensors.
    case unexpectedTensor(file: String, tensor: String)
    /// Saving failed; nothing was left at the destination.
    case writeFailed(file: String, reason: String)

    public var file: String {
        switch self {
        case .cannotOpen(let f, _), .notHDF5(let f), .truncated(let f, _, _), .corrupt(let f, _, _),
             .wrongFormat(let f, _), .wrongVersion(let f, _), .missingGroup(let f, _),
             .missingAttribute(let f, _, _), .badAttribute(let f, _, _, _), .inconsistentConfig(let f, _),
             .configMismatch(let f, _, _, _, _), .missingTensor(let f, _), .wrongShape(let f, _, _, _),
             .wrongDType(let f, _, _), .nonFinite(let f, _, _, _, _), .badTokenizer(let f, _),
             .badProvenance(let f, _), .badSparseTensor(let f, _, _), .unexpectedTensor(let f, _), .writeFailed(let f, _):
            return f
        }
    }

    public var description: String {
        "\(file): " + detail
    }

    private var detail: String {
        switch self {
        case .cannotOpen(_, let reason):
            return "cannot open: \(reason)"
        case .notHDF5:
            return "not an HDF5 file (no HDF5 signature)"
        case .truncated(_, let size, let expected):
            return "truncated HDF5 file: \(size) bytes, its superblock records \(expected)"
        case .corrupt(_, let object, let reason):
            return object.isEmpty ? "damaged HDF5 file: \(reason)" : "cannot read \(object): \(reason)"
        case .wrongFormat(_, let found):
            return "not a pare-dlm model file (root attribute format is \(found.map { "\"\($0)\"" } ?? "missing"))"
        case .wrongVersion(_, let found):
            return "pare-dlm format_version \(found ?? "is missing"); this Pare reads version 1"
        case .missingGroup(_, let group):
            return "group \(group) is missing"
        case .missingAttribute(_, let object, let attribute):
            return "\(object) attribute \(attribute) is missing"
        case .badAttribute(_, let object, let attribute, let reason):
            return "\(object) attribute \(attribute) \(reason)"
        case .inconsistentConfig(_, let problem):
            return "inconsistent /config: \(problem)"
        case .configMismatch(_, let attribute, let configValue, let impliedValue, let evidence):
            return "/config \(attribute) = \(configValue) disagrees with the tensors "
                + "(\(evidence), implying \(attribute) = \(impliedValue))"
        case .missingTensor(_, let tensor):
            return "tensor \(tensor) is missing"
        case .wrongShape(_, let tensor, let shape, let expected):
            return "tensor \(tensor) has shape \(shape), expected \(expected)"
        case .wrongDType(_, let tensor, let found):
            return "tensor \(tensor) is stored as \(found), expected float32 or float16"
        case .nonFinite(_, let tensor, let count, let index, let value):
            return "tensor \(tensor) has \(count) non-finite value\(count == 1 ? "" : "s") (first: \(value) at \(index))"
        case .badTokenizer(_, let reason):
            return "bad tokenizer: \(reason)"
        case .badProvenance(_, let reason):
            return "bad /provenance history: \(reason)"
        case .badSparseTensor(_, let tensor, let reason):
            return "sparse tensor \(tensor) is invalid: \(reason)"
        case .unexpectedTensor(_, let tensor):
            return "unexpected tensor \(tensor) in /model (not part of this config)"
        case .writeFailed(_, let reason):
            return "cannot save: \(reason)"
        }
    }
}
