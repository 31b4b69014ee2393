/// What every op of one forward pass needs besides its weights and inputs: the model's
/// hyper-parameters, its RoPE tables and how the batch is packed.
public struct ForwardContext: Sendable {
    public let config: ModelConfig
    public let rope: RoPE
    public let layout: SequenceLayout

    public init(config: ModelConfig, rope: RoPE, layout: SequenceLayout) {
        self.config = config
        self.rope = rope
        self.layout = layout
    }
}
