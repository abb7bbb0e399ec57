import K8sEnvTestSupport
import Testing

extension Tag {
    /// In-process tests that need nothing but the library (milliseconds each).
    @Tag static var fast: Self
    /// Tests that run python3 (PyYAML, jsonschema) or the built k8senv binary.
    @Tag static var python: Self
}
