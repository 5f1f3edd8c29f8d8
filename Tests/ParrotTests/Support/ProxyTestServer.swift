import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// nginx on 127.0.0.1 as an HTTP proxy in front of one origin server: it
/// takes requests in absolute form (`GET http://HOST:PORT/path`) for any host
/// and passes them to the origin, logging each request line. The agent can
/// then name a host that exists only behind the proxy (a documentation
/// address that nothing routes), so a request that bypassed the proxy fails.
final class ProxyTestServer: @unchecked Sendable {
    let directory: String
    let port: UInt16
    private let process = Process()

    var accessLog: String { (try? String(contentsOfFile: directory + "/access.log", encoding: .utf8)) ?? "" }

    init(origin: UInt16) throws {
        directory = Paths.temporaryDirectory("proxy")
        port = LoopbackPort.free()
        let user = geteuid() == 0 ? "user root;\n" : ""
        let temp = directory + "/tmp"
        Paths.write("""
            \(user)daemon off;
            master_process off;
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log;
            events { worker_connections 64; }
            http {
                log_format requests '$request';
                access_log \(directory)/access.log requests;
                client_body_temp_path \(temp);
                proxy_temp_path \(temp);
                fastcgi_temp_path \(temp);
                uwsgi_temp_path \(temp);
                scgi_temp_path \(temp);
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://127.0.0.1:\(origin);
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                    }
                }
            }
            """, to: directory + "/nginx.conf")
        // One process (no workers to outlive it), with the signals a shell would give it.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", cleanSignalsThenExec, "/usr/sbin/nginx", "-c", directory + "/nginx.conf",
                             "-e", directory + "/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        if LoopbackPort.accepted(port, by: process) { return }
        let log = (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
        finish()
        throw HTTPTestServerError("nginx did not start: \(log)")
    }

    func finish() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        Paths.remove(directory)
    }
}
