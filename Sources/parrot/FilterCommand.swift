import ArgumentParser
import CParrotShim
import ParrotFilter
#if canImport(Glibc)
import Glibc
#endif

struct FilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Print the seccomp-BPF program compiled from filters/syscalls.policy.")

    @Flag(help: "Turn every trap into allow (the benchmark's floor for untrapped calls).")
    var allowAll = false

    @Flag(help: "Print only the size.")
    var summary = false

    @Argument(parsing: .captureForPassthrough,
              help: "With -- COMMAND: install the filter and run COMMAND with no tracer (benchmarks).")
    var command: [String] = []

    func run() throws {
        // Passthrough parsing takes whatever follows the flags, help included.
        if let first = command.first, first != "--" {
            if first == "--help" || first == "-h" { return print(Self.helpMessage()) }
            throw ValidationError("unexpected argument '\(first)': a command to run goes after --")
        }
        let filter = try FilterCompiler.compile(.builtin, allowAll: allowAll, withListing: !summary)
        let program = Array(command.dropFirst())
        if !program.isEmpty {
            let argv: [UnsafeMutablePointer<CChar>?] = program.map { strdup($0) } + [nil]
            let rc = filter.bytes.withUnsafeBytes {
                parrot_exec_filtered(program[0], argv, $0.baseAddress, UInt16(filter.instructionCount))
            }
            throw ValidationError("cannot run \(program[0]): \(ErrnoName.name(of: -rc))")
        }
        if let listing = filter.listing { print(listing, terminator: "") }
        let policy = Policy.builtin
        let trapping = policy.rules.filter { $0.action.mayTrap }.count
        print("# \(filter.instructionCount) BPF instructions (\(filter.bytes.count) bytes); "
            + "\(policy.rules.count) syscalls classified, \(trapping) may stop the tracee")
    }
}
