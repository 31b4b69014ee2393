// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Pare",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Pare", targets: ["Pare"]),
        .executable(name: "pare", targets: ["pare"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (see Makefile `deps`).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        // The sparse kernels: C with per-function target attributes (AVX-512, AVX2), chosen at run time.
        // Optimised in debug builds too: the tests run the kernels on real shapes.
        .target(name: "CSparseKernels", exclude: ["spmm_tile.inc", "spmm_entry.inc", "transpose8x8.inc", "gemm_packed.inc", "elementwise.inc"], cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "Pare",
            dependencies: ["CBLAS", "CHDF5", "CSparseKernels", .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "pare",
            dependencies: ["Pare", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(
            name: "PareTests",
            dependencies: ["Pare"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
