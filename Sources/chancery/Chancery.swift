import ArgumentParser

@main
struct Chancery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chancery",
        abstract: "An xDS control plane for Envoy, driven by the Kubernetes Gateway API.",
        subcommands: [Serve.self, Translate.self, Validate.self, Bootstrap.self, Wait.self]
    )
}
