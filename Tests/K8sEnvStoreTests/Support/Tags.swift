import Testing

extension Tag {
    @Tag static var fast: Self
    @Tag static var integration: Self
}
