import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import ParrotFTP
import ParrotServices

/// The FTP driver's logins: `--netrc FILE` (else `$HOME/.netrc` when it
/// exists) and PARROT_FTP_PASSWORD. Passwords have no option: the command
/// line is visible to every user of the machine.
enum FTPSettings {
    static func options(netrc: String?, environment: [String: String]) throws -> FTPOptions {
        var options = FTPOptions()
        let path = netrc ?? environment["HOME"].map { $0 + "/.netrc" }
        if let path, netrc != nil || access(path, F_OK) == 0 {
            do throws(ServiceError) {
                options.credentials = try FTPCredentials.load(path)
            } catch {
                throw ValidationError("--netrc \(path): \(error)")
            }
        }
        options.environmentPassword = environment["PARROT_FTP_PASSWORD"]
        return options
    }
}
