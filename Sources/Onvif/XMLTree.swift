// A reply's XML as a small tree of elements, each named by namespace URI and local name.
// Parsed by libxml2 (FoundationXML's XMLParser) with namespaces processed; refused before
// parsing when it declares a document type (SOAP 1.2 forbids one, and it is where entity
// expansion attacks live), and during parsing past any limit.

import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

public struct XMLNode: Sendable, Equatable {
    public var namespace: String
    public var name: String
    /// Attributes by local name (their prefixes dropped).
    public var attributes: [String: String]
    public var children: [XMLNode]
    /// The character data directly inside this element, whitespace at both ends trimmed.
    public var text: String

    public init(namespace: String, name: String, attributes: [String: String] = [:], children: [XMLNode] = [], text: String = "") {
        self.namespace = namespace
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child named so.
    public func child(_ namespace: String, _ name: String) -> XMLNode? {
        children.first { $0.namespace == namespace && $0.name == name }
    }

    /// Every child named so, in order.
    public func children(_ namespace: String, _ name: String) -> [XMLNode] {
        children.filter { $0.namespace == namespace && $0.name == name }
    }

    /// The element at the end of a path of children, each step in one namespace.
    public func path(_ namespace: String, _ names: String...) -> XMLNode? {
        var node: XMLNode? = self
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
    public init() {}
}

public enum XMLTree {
    /// Parses `bytes` into the document element. `action` names the request in errors.
    public static func parse(_ bytes: [UInt8], action: String, limits: XMLLimits = XMLLimits()) throws -> XMLNode {
        guard bytes.count <= limits.bytes else {
            throw OnvifError.unreadable(action: action, reason: "\(bytes.count) bytes, more than the \(limits.bytes) a reply may have")
        }
        if bytes.firstRange(of: Array("<!DOCTYPE".utf8)) != nil {
            throw OnvifError.unreadable(action: action, reason: "a document type declaration (SOAP forbids one)")
        }
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
}

/// Builds the tree from the parser's events; the first limit broken stops the parse.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    let limits: XMLLimits
    var stack: [XMLNode] = []
    var texts: [String] = []
    var root: XMLNode?
    var count = 0
    var refusal: String?

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
            return refuse(parser, "prefix \(qualified[..<colon]) of <\(qualified)> is not declared")
        }
        var plain: [String: String] = [:]
        for (key, value) in attributes {
            let local = key.split(separator: ":").last.map(String.init) ?? key
            plain[local] = value
        }
        stack.append(XMLNode(namespace: namespaceURI ?? "", name: elementName, attributes: plain))
        texts.append("")
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard refusal == nil, !texts.isEmpty else { return }
        guard texts[texts.count - 1].utf8.count + string.utf8.count <= limits.textPerElement else {
            return refuse(parser, "an element's text longer than \(limits.textPerElement) bytes")
        }
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
