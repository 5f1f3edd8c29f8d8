// Overlays: small policies (filters/NAME.policy) whose lines replace the same
// syscalls of the base policy for one mode of the agent (sandbox, network
// rules, fake identity).

extension Policy {
    /// The overlays compiled into this binary, by name.
    public static let builtinOverlays: [String: Policy] = {
        var result: [String: Policy] = [:]
        for (name, text) in embeddedOverlayTexts {
            do { result[name] = try Policy.parse(text, file: "filters/\(name).policy") }
            catch { fatalError("embedded overlay is invalid: \(error)") }
        }
        return result
    }()

    /// The builtin policy with the named overlays applied in order.
    public static func builtin(with overlays: [String]) throws -> Policy {
        try overlays.reduce(Policy.builtin) { policy, name in
            guard let overlay = builtinOverlays[name] else {
                throw PolicyError(file: "filters/\(name).policy", line: 0, message: "no such overlay")
            }
            return try policy.overriding(with: overlay, file: "filters/\(name).policy")
        }
    }

    /// Replaces the rules that `overlay` lists; each must name a syscall this
    /// policy classifies, by the same name and number.
    public func overriding(with overlay: Policy, file: String) throws -> Policy {
        var replaced = byNumber
        for rule in overlay.rules {
            guard let base = byNumber[rule.number], base.name == rule.name else {
                throw PolicyError(file: file, line: 0,
                                  message: "\(rule.name) \(rule.number) is not classified so in the base policy")
            }
            replaced[rule.number] = rule
        }
        let rules = self.rules.map { replaced[$0.number]! }
        return Policy(rules: rules, byNumber: replaced,
                      byName: Dictionary(uniqueKeysWithValues: rules.map { ($0.name, $0) }),
                      aliases: aliases, foreign: foreign)
    }
}
