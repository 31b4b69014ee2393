import Foundation
import Testing
@testable import Pare

/// The dependent-token tasks (docs/tasks.md). Golden values: Fixtures/dependent/cases.json from
/// experiments/dependent_tasks_fixture.py (Python prompts, solvers and labelled outputs). The
/// checker and this file's prompt solvers are checked against it; the generators against the solvers.
@Suite struct DependentTaskTests {
    struct Candidate: Decodable { var output: String; var valid: Bool }
    struct PermCase: Decodable { var prompt: String; var candidates: [Candidate] }
    struct ExactCase: Decodable { var prompt: String; var answer: String; var wrong: String }
    struct ColorCase: Decodable { var prompt: String; var fillings: Int; var candidates: [Candidate] }
    struct Cases: Decodable {
        var perm: [PermCase]; var hops: [ExactCase]; var carry: [ExactCase]; var color: [ColorCase]; var spread: [ColorCase]
    }

    static let cases: Cases = {
        let data = FileManager.default.contents(atPath: Fixtures.path("dependent/cases.json"))!
        return try! JSONDecoder().decode(Cases.self, from: data)
    }()

    @Test func permCheckerAgreesWithTheReference() {
        var checked = 0
        for c in Self.cases.perm {
            for cand in c.candidates {
                let example = TaskExample(prompt: c.prompt, answer: "")
                #expect(DependentTask.perm.score(cand.output, for: example) == cand.valid, "\(c.prompt) -> \(cand.output)")
                checked += 1
            }
        }
        #expect(checked >= 40)
        #expect(DependentTask.perm.scoring == .validity)
    }

    @Test(arguments: [DependentTask.color, .spread])
    func coloringCheckerAgreesWithTheReference(task: DependentTask) {
        let (cases, palette) = task == .color ? (Self.cases.color, DependentTask.colors) : (Self.cases.spread, DependentTask.spreadColors)
        #expect(task.coloring?.palette == palette)
        var checked = 0, counted = 0
        for c in cases {
            let example = TaskExample(prompt: c.prompt, answer: "")
            for cand in c.candidates {
                #expect(task.score(cand.output, for: example) == cand.valid, "\(c.prompt) -> \(cand.output)")
                checked += 1
            }
            // Where the blanks are few, every colouring of them is tried: the checker accepts
            // exactly as many as the reference's count of right fillings.
            let template = Array(c.prompt.drop { $0 != ":" }.dropFirst().dropLast())
            let blanks = template.indices.filter { template[$0] == "-" }
            guard blanks.count <= 8 else { continue }
            var accepted = 0
            for code in 0..<Int(pow(Double(palette.count), Double(blanks.count))) {
                var cells = template, rest = code
                for i in blanks { cells[i] = palette[rest % palette.count]; rest /= palette.count }
                if task.score(String(cells), for: example) { accepted += 1 }
            }
            #expect(accepted == c.fillings, "\(c.prompt)")
            counted += 1
        }
        #expect(checked >= 40 && counted >= 3)
        #expect(task.scoring == .validity)
    }

    @Test func exactTasksMatchTheReferenceSolutions() throws {
        for (task, list) in [(DependentTask.hops, Self.cases.hops), (.carry, Self.cases.carry)] {
            #expect(task.scoring == .exact)
            #expect(list.count >= 10)
            for c in list {
                #expect(try Self.solve(task, c.prompt) == c.answer, "\(c.prompt)")
                let example = TaskExample(prompt: c.prompt, answer: c.answer)
                #expect(task.score(c.answer, for: example))
                #expect(!task.score(c.wrong, for: example))
            }
        }
    }

    @Test func generatorsAreDeterministicWellFormedAndSolved() throws {
        let tok = CharTokenizer(vocab: CharTokenizer.referenceVocab)
        for task in DependentTask.allCases {
            let a = task.examples(300, split: .train, seed: 1)
            #expect(a == task.examples(300, split: .train, seed: 1))
            #expect(task.examples(40, split: .train, seed: 1) == Array(a.prefix(40)))
            #expect(a != task.examples(300, split: .test, seed: 1))
            var answerLength = 0
            for s in a + task.examples(300, split: .test, seed: 1) {
                _ = try tok.encode(s.prompt + s.answer)
                #expect(s.answer.count <= DependentTask.generationLength)
                #expect(s.prompt.count + DependentTask.generationLength <= 72)
                answerLength += s.answer.count
                switch task {
                case .perm:
                    let given = Array(s.prompt.dropFirst(5).dropLast())
                    #expect(s.prompt.hasPrefix("perm:") && Set(given).count == given.count)
                    #expect(DependentTask.permLengths.contains(given.count))
                    #expect(task.score(s.answer, for: s))
                case .color, .spread:
                    let template = Array(s.prompt.drop { $0 != ":" }.dropFirst().dropLast())
                    #expect(s.prompt.hasPrefix("\(task.name):") && template.count == DependentTask.colorLength)
                    #expect(zip(template, s.answer).allSatisfy { $0 == "-" || $0 == $1 })
                    #expect(task.score(s.answer, for: s))
                case .hops, .carry:
                    #expect(try Self.solve(task, s.prompt) == s.answer, "\(s.prompt) -> \(s.answer)")
                }
            }
            // Answers fill most of the generation region on average.
            #expect(Double(answerLength) / 600 >= 0.5 * Double(DependentTask.generationLength), "\(task)")
        }
    }

    /// perm's training answers are uniform permutations: the first answer letter sits anywhere in the prompt.
    @Test func permAnswersAreSpreadOverThePrompt() {
        var position = 0.0
        let samples = DependentTask.perm.examples(2000, split: .train, seed: 7)
        for s in samples {
            let given = Array(s.prompt.dropFirst(5).dropLast())
            position += Double(given.firstIndex(of: s.answer.first!)!) / Double(given.count - 1)
        }
        // Mean relative position of a uniform pick is 0.5 (standard error ~0.007 here).
        #expect(abs(position / 2000 - 0.5) < 0.03)
    }

    @Test func catalogNamesEveryTaskOnceWithDistinctStreams() {
        #expect(TaskCatalog.names == ["add", "kv", "rev", "chain", "perm", "hops", "carry", "color", "spread"])
        #expect(Set(TaskCatalog.all.map(\.streamIndex)).count == TaskCatalog.all.count)
        // The reference tasks draw exactly what they drew before the catalog existed.
        for t in ReferenceTask.allCases {
            #expect(t.examples(20, split: .test).map(\.answer) == t.samples(20, split: .test).map(\.answer))
        }
    }

    /// eval and calibration default to the tasks of the model's newest `train` provenance entry.
    @Test func defaultTasksComeFromTheNewestTrainingEntry() {
        let train = { (tasks: String) in "{\"op\":\"train\",\"steps\":10,\"tasks\":{\(tasks)}}" }
        let prune = "{\"op\":\"prune\",\"method\":\"wanda\"}"
        let names = { (p: [String]) in TaskCatalog.defaults(provenance: p).map(\.name) }
        #expect(names([]) == ["add", "kv", "rev", "chain"])
        #expect(names([prune]) == ["add", "kv", "rev", "chain"])
        // Catalog order, whatever the mix's order; a later prune keeps the training tasks.
        #expect(names([train("\"kv\":1"), train("\"color\":0.5,\"hops\":1.25,\"carry\":1.5"), prune]) == ["hops", "carry", "color"])
        #expect(names([train("\"hops\":1"), train("\"kv\":1")]) == ["kv"])
        // A task this catalog does not know: the reference tasks, not a partial list.
        #expect(TaskCatalog.trained(provenance: [train("\"hops\":1,\"sudoku\":1")]) == nil)
        #expect(names([train("\"hops\":1,\"sudoku\":1")]) == ["add", "kv", "rev", "chain"])
        // A newer finetune entry counts when it trained on tasks, not when it trained on a file.
        let finetune = { (tasks: String) in "{\"data\":\"tasks:train\",\"op\":\"finetune\",\"tasks\":{\(tasks)}}" }
        let onFile = "{\"data\":\"mine.jsonl\",\"op\":\"finetune\"}"
        #expect(names([train("\"hops\":1"), prune, finetune("\"spread\":1,\"carry\":1")]) == ["carry", "spread"])
        #expect(names([train("\"hops\":1"), prune, onFile]) == ["hops"])
        #expect(names([finetune("\"rev\":1"), train("\"hops\":1")]) == ["hops"])
    }

    /// pare-dep's recipe trains exactly the dependent-token tasks, with room for the longest prompt
    /// and the 32-token generation region, and `make model-dep` runs it.
    @Test func pareDepRecipeFitsItsTasks() throws {
        let stage1 = try TrainingRecipe.load(path: BundledRecipeTests.path("experiments/pare-dep-1.yaml"))
        let stage2 = try TrainingRecipe.load(path: BundledRecipeTests.path("experiments/pare-dep.yaml"))
        #expect(try stage1.taskMix().map(\.0.name) == ["hops", "carry", "color"])
        #expect(try stage2.taskMix().map(\.0.name) == ["hops", "carry", "color", "spread"])
        #expect(stage1.initFrom == nil && stage2.initFrom == ".build/pare-dep-1.h5")
        #expect(stage1.modelConfig == stage2.modelConfig)
        // Longest prompt: spread's "spread:" + 30 cells + "=" (38), next to hops' 36 and carry's 18.
        #expect(stage2.modelConfig.maxSeqLen >= 7 + DependentTask.colorLength + 1 + DependentTask.generationLength)
        let makefile = try String(contentsOfFile: BundledRecipeTests.path("Makefile"), encoding: .utf8)
        #expect(makefile.contains(".build/pare-dep-1.h5: experiments/pare-dep-1.yaml"))
        #expect(makefile.contains("--config experiments/pare-dep.yaml --output $(DEP_MODEL)"))
    }

    /// Solvers written from the task definitions, parsing the prompt text.
    static func solve(_ task: DependentTask, _ prompt: String) throws -> String {
        switch task {
        case .perm, .color, .spread:
            return ""
        case .hops:
            // "a=3;b+4;c-2;...?": each statement applies its operation to the previous value.
            let statements = prompt.dropLast().split(separator: ";").map(Array.init)
            #expect(prompt.last == "?" && statements.count == 9 && statements[0].starts(with: ["a", "="]))
            var value = Int(String(statements[0].dropFirst(2)))!
            var trace: [String] = []
            for st in statements.dropFirst() {
                let d = Int(String(st.dropFirst(2)))!
                value += st[1] == "+" ? d : -d
                #expect((0...9).contains(value))
                trace.append("\(st[0])=\(value)")
            }
            return trace.joined(separator: ";")
        case .carry:
            let operands = prompt.dropLast().split(separator: "+").map { $0.compactMap(\.wholeNumberValue) }
            #expect(prompt.last == "=" && operands.count == 2 && operands.allSatisfy { $0.count == 8 })
            var carry = 0
            var columns: [String] = []
            for (x, y) in zip(operands[0].reversed(), operands[1].reversed()) {
                let sum = x + y + carry
                carry = sum >= 10 ? 1 : 0
                columns.append("\(sum - 10 * carry)\(carry)")
            }
            return columns.joined(separator: ",")
        }
    }
}
