import ArgumentParser
import ParrotAgent
import ParrotFilter
import ParrotNamespace
import ParrotSandbox

/// `parrot run` options for the sandbox and the fake identity.
struct SandboxOptions: ParsableArguments {
    @Flag(name: .customLong("sandbox"),
          help: "Allow only what the mount list's modes allow (rx, rwx, DENY, ENOENT); everything else fails with EACCES and is logged.")
    var enabled = false

    @Flag(name: .customLong("allow-net"), help: "With --sandbox: leave the network open (the default).")
    var allowNet = false

    @Flag(name: .customLong("deny-net"), help: "With --sandbox: no IP network at all (same as --net none).")
    var denyNet = false

    @Option(name: .customLong("net"), help: "With --sandbox: allow, local (loopback only) or none.")
    var net: String?

    @Flag(name: .customLong("no-landlock"),
          help: "With --sandbox: enforce with the tracer only, not Landlock (for comparison; racy).")
    var noLandlock = false

    @Option(name: [.customShort("U"), .customLong("uid")], help: "Report this uid from getuid and friends.")
    var uid: UInt32?

    @Option(name: [.customShort("G"), .customLong("gid")], help: "Report this gid from getgid and friends.")
    var gid: UInt32?

    func validate() throws {
        let chosen = [allowNet, denyNet, net != nil].filter { $0 }.count
        if chosen > 1 { throw ValidationError("--allow-net, --deny-net and --net exclude each other") }
        if (chosen > 0 || noLandlock) && !enabled {
            throw ValidationError("--allow-net, --deny-net, --net and --no-landlock need --sandbox")
        }
        if let net, NetworkRule(rawValue: net) == nil {
            throw ValidationError("--net must be allow, local or none, not '\(net)'")
        }
    }

    var network: NetworkRule {
        if denyNet { return .none }
        return net.flatMap(NetworkRule.init(rawValue:)) ?? .allow
    }

    var identity: FakeIdentity { FakeIdentity(uid: uid, gid: gid) }

    /// The sandbox for this mount table, or nil without --sandbox.
    func sandbox(for table: MountTable) -> Sandbox? {
        enabled ? Sandbox(mounts: table, network: network, useLandlock: !noLandlock) : nil
    }

    /// The trap policy with the overlays these options need.
    func policy(sandbox: Sandbox?) throws -> Policy {
        let overlays = (sandbox?.overlays ?? []) + (identity.isEmpty ? [] : ["identity"])
        return try Policy.builtin(with: overlays)
    }
}
