/// The mapping between `ModelConfig` and the `/config` attributes, in one table that both the
/// reader and the writer use (a new config field needs one new row here).
extension ModelConfig {
    enum Field {
        case int(WritableKeyPath<ModelConfig, Int>)
        case float(WritableKeyPath<ModelConfig, Double>)
        case string(WritableKeyPath<ModelConfig, String>)
    }

    /// Every `/config` attribute, in `CodingKeys` order.
    static var fields: [(key: CodingKeys, field: Field)] {
        [
            (.architecture, .string(\.architecture)),
            (.vocabSize, .int(\.vocabSize)),
            (.dModel, .int(\.dModel)),
            (.nLayers, .int(\.nLayers)),
            (.nHeads, .int(\.nHeads)),
            (.nKVHeads, .int(\.nKVHeads)),
            (.dFF, .int(\.dFF)),
            (.maxSeqLen, .int(\.maxSeqLen)),
            (.maskTokenID, .int(\.maskTokenID)),
            (.eosTokenID, .int(\.eosTokenID)),
            (.ropeTheta, .float(\.ropeTheta)),
            (.normEps, .float(\.normEps)),
        ]
    }

    /// The attributes to store: integers as int64, floats as float64, the architecture as a string.
    var attributes: [(name: String, value: AttributeValue)] {
        Self.fields.map { key, field in
            switch field {
            case .int(let path): return (key.rawValue, .int(Int64(self[keyPath: path])))
            case .float(let path): return (key.rawValue, .float(self[keyPath: path]))
            case .string(let path): return (key.rawValue, .string(self[keyPath: path]))
            }
        }
    }

    /// Why a stored attribute value cannot become this field, or nil when it can.
    enum AttributeProblem: Error {
        case missing(String)
        case bad(String, reason: String)
    }

    /// Rebuilds a config from `lookup(name)`, which returns the stored attribute or nil. Any integer
    /// type is accepted for integers, any integer or float type for floats. Integers must fit in
    /// 32 bits so that no shape arithmetic on them can overflow.
    static func fromAttributes(_ lookup: (String) throws -> AttributeValue?) throws -> ModelConfig {
        var config = ModelConfig(vocabSize: 0, dModel: 0, nLayers: 0, nHeads: 0, nKVHeads: 0, dFF: 0,
                                 maxSeqLen: 0, maskTokenID: 0, eosTokenID: 0)
        for (key, field) in fields {
            let name = key.rawValue
            guard let value = try lookup(name) else { throw AttributeProblem.missing(name) }
            switch (field, value) {
            case (.int(let path), .int(let v)):
                guard let v32 = Int32(exactly: v) else {
                    throw AttributeProblem.bad(name, reason: "= \(v) is implausibly large")
                }
                config[keyPath: path] = Int(v32)
            case (.float(let path), .float(let v)):
                config[keyPath: path] = v
            case (.float(let path), .int(let v)):
                config[keyPath: path] = Double(v)
            case (.string(let path), .string(let v)):
                config[keyPath: path] = v
            case (.int, _):
                throw AttributeProblem.bad(name, reason: "= \(value) must be an integer")
            case (.float, _):
                throw AttributeProblem.bad(name, reason: "= \(value) must be a number")
            case (.string, _):
                throw AttributeProblem.bad(name, reason: "= \(value) must be a string")
            }
        }
        // `expectedTensors` lists 9 tensors per layer; a damaged or hostile n_layers must not make
        // the reader build billions of names before it finds the tensors missing.
        if config.nLayers > ModelConfig.maxLayers {
            throw AttributeProblem.bad(CodingKeys.nLayers.rawValue,
                                       reason: "= \(config.nLayers) is implausibly large (at most \(ModelConfig.maxLayers))")
        }
        return config
    }
}
