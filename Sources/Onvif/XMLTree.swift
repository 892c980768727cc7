// A reply's XML as a small tree of elements, each named by namespace URI and local name.
// Parsed by libxml2 (FoundationXML's XMLParser) with namespaces processed. Refused before
// parsing unless it is UTF-8 (or ASCII) text starting with `<`, with no NUL byte and no
// document type declaration (SOAP 1.2 forbids one; it is where entity expansion and
// default attributes live), so the byte search for one cannot be dodged by another
// encoding; any declaration libxml2 still reports is refused too. During parsing, every
// limit (elements, depth, attributes, text, and the bytes the tree keeps) stops it.

import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

public struct OnvifElement: Sendable, Equatable {
    public var namespace: String
    public var name: String
    /// Attributes by local name (their prefixes dropped).
    public var attributes: [String: String]
    public var children: [OnvifElement]
    /// The character data directly inside this element, whitespace at both ends trimmed.
    public var text: String

    public init(namespace: String, name: String, attributes: [String: String] = [:], children: [OnvifElement] = [], text: String = "") {
        self.namespace = namespace
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child named so.
    public func child(_ namespace: String, _ name: String) -> OnvifElement? {
        children.first { $0.namespace == namespace && $0.name == name }
    }

    /// Every child named so, in order.
    public func children(_ namespace: String, _ name: String) -> [OnvifElement] {
        children.filter { $0.namespace == namespace && $0.name == name }
    }

    /// The element at the end of a path of children, each step in one namespace.
    public func path(_ namespace: String, _ names: String...) -> OnvifElement? {
        var node: OnvifElement? = self
        for name in names { node = node?.child(namespace, name) }
        return node
    }
}

public struct XMLLimits: Sendable {
    public var bytes = 1 << 20
    public var depth = 64
    public var elements = 100_000
    public var attributesPerElement = 64
    public var textPerElement = 64 << 10
    /// A namespace URI's length in bytes (ONVIF's are under 100).
    public var namespaceBytes = 256
    /// What the tree may keep in all (names, namespaces, attributes, text): a small reply
    /// must not become a large tree.
    public var retainedBytes = 2 << 20
    public init() {}
}

public enum XMLTree {
    /// Parses `bytes` into the document element. `action` names the request in errors.
    public static func parse(_ bytes: [UInt8], action: String, limits: XMLLimits = XMLLimits()) throws -> OnvifElement {
        guard bytes.count <= limits.bytes else {
            throw OnvifError.unreadable(action: action, reason: "\(bytes.count) bytes, more than the \(limits.bytes) a reply may have")
        }
        try screen(bytes, action: action)
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder(limits: limits)
        parser.delegate = builder
        let finished = parser.parse()
        if let refusal = builder.refusal { throw OnvifError.unreadable(action: action, reason: refusal) }
        guard finished, let root = builder.root else {
            let reason = parser.parserError.map { "not well-formed XML (\(($0 as NSError).code))" } ?? "no document element"
            throw OnvifError.unreadable(action: action, reason: reason)
        }
        return root
    }

    /// What is refused before libxml2 sees a byte: another encoding than UTF-8 or ASCII
    /// (in which the search for a DOCTYPE would read other bytes than the parser), a NUL,
    /// anything before the first `<` but whitespace, and a document type declaration.
    static func screen(_ bytes: [UInt8], action: String) throws {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 } // UTF-8's byte order mark
        while start < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        guard start < bytes.count, bytes[start] == UInt8(ascii: "<") else {
            throw OnvifError.unreadable(action: action, reason: "not UTF-8 XML (it does not begin with <)")
        }
        guard !bytes.contains(0) else { throw OnvifError.unreadable(action: action, reason: "a NUL byte") }
        if bytes[start...].starts(with: Array("<?xml".utf8)) {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ">")) ?? bytes.endIndex
            let declaration = String(decoding: bytes[start..<end], as: UTF8.self).lowercased()
            if let at = declaration.range(of: "encoding") {
                let value = declaration[at.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "'" }
                    .prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
                guard ["utf-8", "utf8", "us-ascii", "ascii"].contains(String(value)) else {
                    throw OnvifError.unreadable(action: action, reason: "encoding \(value.prefix(20)) (only UTF-8 is read)")
                }
            }
        }
        if bytes.firstRange(of: Array("<!DOCTYPE".utf8)) != nil || bytes.firstRange(of: Array("<!ENTITY".utf8)) != nil {
            throw OnvifError.unreadable(action: action, reason: "a document type declaration (SOAP forbids one)")
        }
    }
}

/// Builds the tree from the parser's events; the first limit broken stops the parse.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    let limits: XMLLimits
    var stack: [OnvifElement] = []
    var texts: [String] = []
    var root: OnvifElement?
    var count = 0
    var retained = 0
    var refusal: String?
    /// Each namespace URI kept once, however many elements name it.
    var namespaces: [String: String] = [:]

    init(limits: XMLLimits) {
        self.limits = limits
    }

    func refuse(_ parser: XMLParser, _ reason: String) {
        if refusal == nil { refusal = reason }
        parser.abortParsing()
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        guard refusal == nil else { return }
        count += 1
        guard count <= limits.elements else { return refuse(parser, "more than \(limits.elements) elements") }
        guard stack.count < limits.depth else { return refuse(parser, "nested deeper than \(limits.depth)") }
        guard attributes.count <= limits.attributesPerElement else {
            return refuse(parser, "an element with more than \(limits.attributesPerElement) attributes")
        }
        // libxml2 only warns of a prefix no one declared; the element then has no namespace.
        if let qualified = qualifiedName, let colon = qualified.firstIndex(of: ":"), (namespaceURI ?? "").isEmpty {
            return refuse(parser, "prefix \(Soap.clip(String(qualified[..<colon]))) is not declared")
        }
        let uri = namespaceURI ?? ""
        guard uri.utf8.count <= limits.namespaceBytes else {
            return refuse(parser, "a namespace URI longer than \(limits.namespaceBytes) bytes")
        }
        let namespace: String
        if let known = namespaces[uri] {
            namespace = known
        } else {
            namespaces[uri] = uri
            namespace = uri
            retained += uri.utf8.count
        }
        // ONVIF's attributes are unqualified; a prefixed one (`evil:x`) is not kept, so it
        // cannot stand in for the plain one.
        var plain: [String: String] = [:]
        for (key, value) in attributes where !key.contains(":") {
            plain[key] = value
            retained += key.utf8.count + value.utf8.count
        }
        retained += elementName.utf8.count + 64
        guard retained <= limits.retainedBytes else { return refuse(parser, "more than \(limits.retainedBytes) bytes kept") }
        stack.append(OnvifElement(namespace: namespace, name: elementName, attributes: plain))
        texts.append("")
    }

    // The first error libxml2 reports ends the parse. Besides refusing what is not
    // well-formed, this bounds a leak in swift-corelibs-foundation's XMLParser, which keeps
    // a few dozen bytes of every error libxml2 reports (found by FuzzOnvif's leak check):
    // in recovery mode one hostile reply could otherwise report thousands.
    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        let code = (parseError as NSError).code
        refuse(parser, code == 201 ? "a namespace prefix is not declared" : "not well-formed XML (libxml2 error \(code))")
    }

    func parser(_ parser: XMLParser, validationErrorOccurred validationError: any Error) {
        refuse(parser, "not valid XML (libxml2 error \((validationError as NSError).code))")
    }

    // A document type that got this far is refused whole (screen() should have).
    func parser(_ parser: XMLParser, foundElementDeclarationWithName elementName: String, model: String) {
        refuse(parser, "a document type declaration")
    }

    func parser(
        _ parser: XMLParser, foundAttributeDeclarationWithName attributeName: String, forElement elementName: String, type: String?,
        defaultValue: String?
    ) {
        refuse(parser, "a document type declaration")
    }

    func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) {
        refuse(parser, "an entity declaration")
    }

    func parser(_ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?, systemID: String?) {
        refuse(parser, "an entity declaration")
    }

    func parser(
        _ parser: XMLParser, foundUnparsedEntityDeclarationWithName name: String, publicID: String?, systemID: String?,
        notationName: String?
    ) {
        refuse(parser, "an entity declaration")
    }

    func parser(_ parser: XMLParser, foundNotationDeclarationWithName name: String, publicID: String?, systemID: String?) {
        refuse(parser, "a notation declaration")
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard refusal == nil, !texts.isEmpty else { return }
        guard texts[texts.count - 1].utf8.count + string.utf8.count <= limits.textPerElement else {
            return refuse(parser, "an element's text longer than \(limits.textPerElement) bytes")
        }
        retained += string.utf8.count
        guard retained <= limits.retainedBytes else { return refuse(parser, "more than \(limits.retainedBytes) bytes kept") }
        texts[texts.count - 1] += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        self.parser(parser, foundCharacters: String(decoding: CDATABlock, as: UTF8.self))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard refusal == nil, var node = stack.popLast(), let text = texts.popLast() else { return }
        node.text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].children.append(node)
        }
    }
}
