/// Tasks whose answer tokens depend on each other (docs/tasks.md): the world of the second
/// bundled model, where decoding many tokens in one step breaks the answer.
///
/// Character-level over the reference vocabulary, deterministic from a seed, with a
/// 32-token generation region that the answers fill for the most part.
public enum DependentTask: String, CaseIterable, Codable, Sendable {
    /// `perm:{s}=` with s = 16-24 distinct letters -> any permutation of s (scored by validity).
    /// Training answers are uniform random permutations, so positions decoded together collide.
    case perm
    /// `a={n};b+{d};c-{d};...?` with 8 hops (b = a + d, c = b - d, ...), every value a digit ->
    /// the trace of every value, `b=7;c=5;...;i=2` (each value needs the one before it).
    /// Prompt and trace both take 4 characters per hop, so hop k's operation sits a fixed
    /// 32 positions before its value: finding it is positional, not a retrieval by name.
    case hops
    /// `{a}+{b}=` with two 8-digit numbers (leading zeros kept) -> each column from the least
    /// significant as `{sum digit}{carry out}`, joined by `,` (each carry needs the one before).
    case carry
    /// `color:{t}=` with t a template of 30 cells, each a fixed colour (`a`, `b`, `c`) or a
    /// blank `-` -> t with every blank coloured so that no two neighbours share a colour (scored
    /// by validity). Blanks come in runs with several right fillings; neighbouring blanks
    /// decoded together pick independently and clash.
    case color
    /// `spread:{t}=` with t a template of 30 cells, each a fixed colour (`a`-`d`) or a blank `-`
    /// -> t with every blank coloured so that any two cells at most two apart differ (a proper
    /// colouring of the path's square with four colours; scored by validity). Each blank has
    /// four neighbours to avoid, so parallel picks clash more often than in color.
    case spread

    public static let generationLength = 32
    static let letters = Array("abcdefghijklmnopqrstuvwxyz")
    static let permLengths = 16...24
    static let hopCount = 8
    static let carryDigits = 8
    public static let colors = Array("abc")
    public static let spreadColors = Array("abcd")
    /// One length, so each cell's template entry sits a fixed distance before it (31 positions).
    static let colorLength = 30
    /// Share of cells left blank, in 16ths: 10/16 gives runs of blanks long enough to be ambiguous.
    static let colorBlankSixteenths: UInt64 = 10

    public func sample(_ rng: inout SplitMix64) -> TaskExample {
        func int(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(rng.next() % UInt64(range.count))
        }
        /// A uniform random permutation (Fisher-Yates).
        func shuffled<T>(_ items: [T]) -> [T] {
            var a = items
            for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(0...i)) }
            return a
        }
        switch self {
        case .perm:
            let s = Array(shuffled(Self.letters).prefix(int(Self.permLengths)))
            return TaskExample(prompt: "perm:\(String(s))=", answer: String(shuffled(s)))
        case .hops:
            var value = int(0...9)
            var prompt = "a=\(value)"
            var trace: [String] = []
            for h in 1...Self.hopCount {
                // Every nonzero step that keeps the value a digit, equally likely.
                let steps = (1...9).filter { value + $0 <= 9 } + (1...9).filter { value - $0 >= 0 }.map { -$0 }
                let d = steps[int(0...(steps.count - 1))]
                value += d
                let name = Self.letters[h]
                prompt += ";\(name)\(d > 0 ? "+" : "-")\(abs(d))"
                trace.append("\(name)=\(value)")
            }
            return TaskExample(prompt: prompt + "?", answer: trace.joined(separator: ";"))
        case .carry:
            let a = (0..<Self.carryDigits).map { _ in int(0...9) }, b = (0..<Self.carryDigits).map { _ in int(0...9) }
            var carry = 0
            var columns: [String] = []
            for i in (0..<Self.carryDigits).reversed() {
                let sum = a[i] + b[i] + carry
                carry = sum / 10
                columns.append("\(sum % 10)\(carry)")
            }
            let text = { (digits: [Int]) in digits.map(String.init).joined() }
            return TaskExample(prompt: "\(text(a))+\(text(b))=", answer: columns.joined(separator: ","))
        case .color, .spread:
            // A uniform proper colouring (each cell avoids the `distance` before it), then blanks
            // chosen independently of it, so the answer is a uniform pick among the right fillings.
            let (palette, distance) = coloring!
            var cells: [Character] = []
            for _ in 0..<Self.colorLength {
                let free = palette.filter { !cells.suffix(distance).contains($0) }
                cells.append(free[int(0...(free.count - 1))])
            }
            let template = cells.map { rng.next() % 16 < Self.colorBlankSixteenths ? "-" : $0 }
            return TaskExample(prompt: "\(rawValue):\(String(template))=", answer: String(cells))
        }
    }

    /// perm: the output uses each letter of the prompt exactly once, and nothing else.
    public static func isPermutation(_ output: String, of prompt: String) -> Bool {
        guard prompt.hasPrefix("perm:"), prompt.hasSuffix("=") else { return false }
        let given = prompt.dropFirst(5).dropLast()
        return output.sorted() == given.sorted()
    }
}

extension DependentTask {
    /// color and spread: the palette, and how far apart two cells must be to share a colour.
    var coloring: (palette: [Character], distance: Int)? {
        switch self {
        case .color: return (Self.colors, 1)
        case .spread: return (Self.spreadColors, 2)
        default: return nil
        }
    }

    /// color and spread: the output has the template's length, keeps its fixed colours, fills
    /// every blank from the palette, and no two cells at most `distance` apart are equal.
    public func isColoring(_ output: String, of prompt: String) -> Bool {
        guard let (palette, distance) = coloring, prompt.hasPrefix("\(rawValue):"), prompt.hasSuffix("=") else { return false }
        let template = Array(prompt.dropFirst(rawValue.count + 1).dropLast()), cells = Array(output)
        guard cells.count == template.count else { return false }
        for (i, cell) in cells.enumerated() {
            guard palette.contains(cell), template[i] == "-" || template[i] == cell else { return false }
            if cells[max(0, i - distance)..<i].contains(cell) { return false }
        }
        return true
    }
}

extension DependentTask: TaskDefinition {
    public var name: String { rawValue }
    public var generationLength: Int { Self.generationLength }
    public var scoring: TaskScoring { self == .perm || coloring != nil ? .validity : .exact }
    /// After the reference tasks' 0...3, so no two tasks share a seed stream.
    public var streamIndex: UInt64 { 100 + UInt64(Self.allCases.firstIndex(of: self)!) }
    public func example(_ rng: inout SplitMix64) -> TaskExample { sample(&rng) }

    public func score(_ output: String, for example: TaskExample) -> Bool {
        switch scoring {
        case .exact: return output == example.answer
        case .validity:
            return self == .perm ? Self.isPermutation(output, of: example.prompt) : isColoring(output, of: example.prompt)
        }
    }
}
