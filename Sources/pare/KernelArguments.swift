import ArgumentParser
import Pare

extension KernelChoice: ExpressibleByArgument {}

/// `--kernels dense|sparse|auto` for the commands that decode (generate, eval, compare).
struct KernelArguments: ParsableArguments {
    @Option(help: "Kernels for the block linears: dense (BLAS), sparse (Pare's sparse kernels) or auto (per matrix, sparse from the measured break-even sparsity for its shape; measured once and cached). Default: as the file stores them (dense tensors on BLAS, sparse encodings on the sparse kernels).")
    var kernels: KernelChoice?

    /// The model with its linears placed for `tokens` tokens per forward pass (as stored
    /// when no --kernels was given: dense tensors on the dense kernel, sparse ones sparse). It
    /// replaces `loaded.weights`, so the loaded form is freed once nothing else holds it.
    func place(_ loaded: inout LoadedModel, tokens: Int, quiet: Bool) throws -> any ModelWeights {
        let placement = KernelPlacement(kernels, tokens: tokens)
        let placed: PlacedModel
        if var resident = loaded.weights as? LLaDAModel {
            // Let go of the loaded copy's blocks first, so each dense block is freed once placed.
            var headless = resident
            headless.blocks = []
            loaded.weights = headless
            placed = PlacedModel(consuming: &resident, placement: placement)
        } else {
            placed = try PlacedModel(loaded.weights, placement: placement)
        }
        let model = loaded.weights
        loaded.weights = placed
        guard let kernels else { return placed }
        if !quiet, !(model is StreamedModel) {
            let (sparse, total) = try placed.sparseCount()
            log("kernels: \(kernels.rawValue), \(sparse) of \(total) block linears sparse (\(SparseKernels.variant(tokens: tokens)) at \(tokens) tokens per forward)")
        }
        return placed
    }
}
