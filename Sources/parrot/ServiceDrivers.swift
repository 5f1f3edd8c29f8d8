import ParrotAgent
import ParrotChirp
import ParrotFTP
import ParrotHTTP
import ParrotServices

/// The protocol drivers the agent splices into the namespace, by the first
/// component of their paths.
enum ServiceDrivers {
    static func factories(chirp: ChirpOptions, http: HTTPOptions = HTTPOptions(), ftp: FTPOptions = FTPOptions()) -> [String: ServiceFactory] {
        [
            "chirp": { authority throws(ServiceError) in try ChirpFileService(authority: authority, options: chirp) },
            "http": { authority throws(ServiceError) in try HTTPFileService(authority: authority, secure: false, options: http) },
            "https": { authority throws(ServiceError) in try HTTPFileService(authority: authority, secure: true, options: http) },
            "ftp": { authority throws(ServiceError) in try FTPFileService(authority: authority, secure: false, options: ftp) },
            "ftps": { authority throws(ServiceError) in try FTPFileService(authority: authority, secure: true, options: ftp) },
        ]
    }
}
