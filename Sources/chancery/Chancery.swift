import Admin
import ArgumentParser

@main
struct Chancery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chancery",
        abstract: "An xDS control plane for Envoy, driven by the Kubernetes Gateway API.",
        version: "chancery \(BuildInfo.version) (Swift \(BuildInfo.swift))",
        subcommands: [
            Serve.self, Translate.self, Validate.self, Bootstrap.self, Wait.self, Status.self, Get.self, Describe.self,
            ConfigDump.self, Diff.self, Plan.self, MeshInit.self,
        ]
    )
}
