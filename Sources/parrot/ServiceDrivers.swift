import ParrotAgent
import ParrotChirp
import ParrotServices

/// The protocol drivers the agent splices into the namespace, by the first
/// component of their paths.
enum ServiceDrivers {
    static func factories(chirp: ChirpOptions) -> [String: ServiceFactory] {
        [
            "chirp": { authority throws(ServiceError) in try ChirpFileService(authority: authority, options: chirp) },
        ]
    }
}
