import Foundation
import Layers
import Tensors
import Tokenizers

/// Loads a Hugging Face BERT folder (`config.json`, `model.safetensors`, tokenizer files), with
/// sentence-transformers pooling from `modules.json`, `1_Pooling/config.json` and `sentence_bert_config.json`.
public enum HuggingFaceLoader {
    /// Buffers that checkpoints carry but that are not parameters.
    static let ignoredTensors: Set<String> = ["embeddings.position_ids"]

    /// Whether `dir` looks like a Hugging Face model folder.
    public static func isModelDirectory(_ dir: URL) -> Bool {
        FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path)
            && FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path)
    }

    /// Reads `config.json` into a ``BertConfig``; errors name the file and field.
    public static func readConfig(_ dir: URL) throws -> BertConfig {
        let url = dir.appendingPathComponent("config.json")
        let data = try readFile(url)
        if let object = try? JSONValue.parse(data), let type = object["model_type"]?.string, type != "bert" {
            throw FormatError.invalid(file: url.path, message: "model_type '\(type)' is not supported (bert)")
        }
        do { return try JSONDecoder().decode(BertConfig.self, from: data) } catch {
            throw FormatError.invalid(file: url.path, message: decodingMessage(error))
        }
    }

    /// Reads the sentence-transformers pooling settings (mean pooling, no normalize when absent).
    public static func readPooling(_ dir: URL) throws -> SentencePooling {
        var mode = SentencePooling.Mode.mean
        var normalize = false
        let modulesURL = dir.appendingPathComponent("modules.json")
        if FileManager.default.fileExists(atPath: modulesURL.path) {
            // JSONValue.parse gives one-line errors naming the file (JSONSerialization's leak NSCocoaErrorDomain codes).
            guard let modules = try JSONValue.parse(try readFile(modulesURL), file: modulesURL.path, what: "modules.json").array,
                modules.allSatisfy({ $0.object != nil })
            else {
                throw FormatError.invalid(file: modulesURL.path, message: "expected a list of module objects")
            }
            for m in modules {
                let type = m["type"]?.string ?? ""
                if type.hasSuffix(".Normalize") { normalize = true }
                if type.hasSuffix(".Pooling") {
                    let sub = m["path"]?.string ?? "1_Pooling"
                    guard !sub.hasPrefix("/"), !sub.split(separator: "/").contains("..") else {
                        throw FormatError.invalid(file: modulesURL.path, message: "pooling path '\(sub)' leaves the model directory")
                    }
                    let poolURL = dir.appendingPathComponent(sub).appendingPathComponent("config.json")
                    let p = try JSONValue.parse(try readFile(poolURL), file: poolURL.path, what: "pooling config")
                    guard p.object != nil else { throw FormatError.invalid(file: poolURL.path, message: "expected a JSON object") }
                    if p["pooling_mode_cls_token"]?.bool == true {
                        mode = .cls
                    } else if p["pooling_mode_max_tokens"]?.bool == true {
                        mode = .max
                    } else if p["pooling_mode_mean_tokens"]?.bool == true {
                        mode = .mean
                    } else if p["pooling_mode_mean_sqrt_len_tokens"]?.bool == true {
                        throw FormatError.invalid(
                            file: poolURL.path, message: "pooling_mode_mean_sqrt_len_tokens is not supported (mean, cls, max)")
                    }
                } else if !type.hasSuffix(".Transformer") && !type.hasSuffix(".Normalize") {
                    throw FormatError.invalid(
                        file: modulesURL.path, message: "module type '\(type)' is not supported (Transformer, Pooling, Normalize)")
                }
            }
        }
        return SentencePooling(mode: mode, normalize: normalize)
    }

    /// `max_seq_length` from `sentence_bert_config.json`, if present.
    public static func readMaxSequenceLength(_ dir: URL) throws -> Int? {
        let url = dir.appendingPathComponent("sentence_bert_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let obj = try JSONValue.parse(try readFile(url), file: url.path, what: "sentence_bert_config.json")
        guard obj.object != nil else { throw FormatError.invalid(file: url.path, message: "expected a JSON object") }
        guard let v = obj["max_seq_length"], !v.isNull else { return nil }
        guard let n = v.int, n > 0 else {
            throw FormatError.invalid(file: url.path, message: "max_seq_length must be a positive integer, got \(v)")
        }
        return n
    }

    /// Builds the BERT tree from `config` and applies `tensors` strictly (HF names; a `bert.` prefix is removed).
    public static func buildBert(config: BertConfig, tensors raw: [String: Tensor], file: String) throws -> BertModel {
        var tensors: [String: Tensor] = [:]
        for (key, value) in raw where !ignoredTensors.contains(key) {
            let name = key.hasPrefix("bert.") ? String(key.dropFirst(5)) : key
            if ignoredTensors.contains(name) { continue }
            tensors[name] = value
        }
        let model = try BertModel(config: config, withPooler: tensors["pooler.dense.weight"] != nil)
        do { try model.update(parameters: tensors) } catch let e as ModelError {
            throw FormatError.invalid(file: file, message: e.description)
        }
        return model
    }

    /// Loads the whole folder.
    public static func load(_ dir: URL) throws -> LoadedModel {
        let config: BertConfig
        do { config = try readConfig(dir) } catch let e as ModelError {
            throw FormatError.invalid(file: dir.appendingPathComponent("config.json").path, message: e.description)
        }
        let weightsURL = dir.appendingPathComponent("model.safetensors")
        let (tensors, _) = try SafeTensors.read(weightsURL)
        let bert: BertModel
        do { bert = try buildBert(config: config, tensors: tensors, file: weightsURL.path) } catch let e as ModelError {
            throw FormatError.invalid(file: dir.appendingPathComponent("config.json").path, message: e.description)
        }
        let pooling = try readPooling(dir)
        let maxLength = try readMaxSequenceLength(dir)
        let tokenizer = try WordPieceTokenizer(modelDirectory: dir, maxLength: maxLength.map { min($0, config.maxPositionEmbeddings) })
        return LoadedModel(kind: .sentenceEncoder(bert, pooling, tokenizer), source: dir, format: "huggingface")
    }
}

/// Reads a whole file; a missing file is a one-line error naming it.
func readFile(_ url: URL) throws -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else { throw FormatError.missingFile(url.path) }
    do { return try Data(contentsOf: url) } catch {
        throw FormatError.invalid(file: url.path, message: "cannot read: \(error.localizedDescription)")
    }
}

/// One line from a JSONDecoder error: the key path and what was wrong.
func decodingMessage(_ error: Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ c: DecodingError.Context) -> String {
        c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
    switch e {
    case let .keyNotFound(key, c): return "missing field '\((c.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
    case let .typeMismatch(_, c): return "field '\(path(c))': \(c.debugDescription)"
    case let .valueNotFound(_, c): return "field '\(path(c))' is null"
    case let .dataCorrupted(c): return c.codingPath.isEmpty ? "not valid JSON" : "field '\(path(c))': \(c.debugDescription)"
    @unknown default: return "\(error)"
    }
}
