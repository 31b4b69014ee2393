/// What every op of one forward pass needs besides its weights and inputs: the model's
/// hyper-parameters, its RoPE tables and how the batch is packed.
public struct ForwardContext: Sendable {
    public let config: ModelConfig
    public let rope: RoPE
    public let layout: SequenceLayout

    /// The RoPE tables cover the longest batch run so far, not the model's max_seq_len (a file
    /// could declare 10^8); the values per position are the same whatever the table's length.
    public init(config: ModelConfig, layout: SequenceLayout) {
        self.config = config
        self.rope = RoPE.covering(layout.maxLength, headDim: config.headDim, theta: config.ropeTheta)
        self.layout = layout
    }
}
