#!/usr/bin/env python3
"""Golden fixtures for Pare's byte-level BPE tokenizer (BPETokenizerTests).

Trains two small byte-level BPE tokenizers with the Hugging Face `tokenizers` library on a
corpus generated here, in the two layouts real diffusion LMs ship:

  llama/tokenizer.json     LLaDA-8B / Llama-3 style: Sequence[Split(Llama-3 regex, Isolated),
                           ByteLevel(use_regex=False)], no normalizer, ignore_merges, special
                           tokens (<|startoftext|>, <|eot_id|>, <|mdm_mask|>, ...) plus one
                           non-special added token, a TemplateProcessing post-processor that
                           puts <|startoftext|> first.
  qwen/vocab.json, merges.txt, added_tokens.json, tokenizer_config.json
                           Dream / Qwen2 style: NFC, Split(Qwen2 regex), ByteLevel; the special
                           tokens after the vocabulary, in added_tokens.json.

Then writes cases.json: >= 1000 varied test lines (scripts, CJK, emoji, accents precomposed and
decomposed, combining marks, whitespace runs, tabs, CR/LF, digit runs, punctuation,
contractions in any case, special tokens inside text) with, for each layout, the ids the
reference tokenizer gives and its decoding of them:

  llama: tokenizers.Tokenizer.from_file(tokenizer.json).encode(line)   (special tokens added)
  qwen:  transformers.AutoTokenizer.from_pretrained(qwen/)(line)        (Qwen2Tokenizer)
  gpt2:  tokenizers.Tokenizer.from_file(gpt2/tokenizer.json).encode(line)

gpt2/tokenizer.json is a third layout: ByteLevel alone, splitting with its own GPT-2 regex.

Needs `pip install tokenizers transformers` (only to regenerate; the Swift tests read the JSON).
Deterministic: a fixed seed, and tokenizers' trainer is deterministic for a given corpus.
"""
import json
import os
import random
import shutil

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
# The chat templates of LLaDA-8B-Instruct and Dream-v0-Instruct-7B (their tokenizer_config.json),
# kept in the fixture folders so `transformers` renders the reference chat prompts.
LLADA_CHAT = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
              "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
              "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
              "{{ content }}{% endfor %}{% if add_generation_prompt %}"
              "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
DREAM_CHAT = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
              "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
              "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CHAT_MESSAGES = ["What is 2+2?", "  Explain diffusion models.\n\n", "\tcafé, 你好 🙂 <|mask|>\x1c", "", "line one\nline two"]
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA_SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|mdm_mask|>"]
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|mask|>"]

WORDS = {
    "en": "the quick brown fox jumps over lazy dog tokenizer diffusion model language mask sample "
          "prune sparse weight attention hello world answer question number because would".split(),
    "fr": "déjà vu café naïve façade élève où être garçon Noël œuvre".split(),
    "de": "Straße Größe über Äpfel schön Fußgänger Mädchen".split(),
    "es": "año niño señor mañana corazón pingüino".split(),
    "ru": "привет мир модель язык Москва ёжик".split(),
    "el": "γειά σου κόσμε αλφάβητο Ωμέγα".split(),
    "zh": "你好 世界 模型 语言 扩散 我们 中文 测试".split(),
    "ja": "こんにちは カタカナ 日本語 東京 ひらがな".split(),
    "ko": "안녕하세요 세계 한국어 모델".split(),
    "ar": "مرحبا بالعالم العربية".split(),
    "hi": "नमस्ते दुनिया हिन्दी".split(),
    "th": "สวัสดี ภาษาไทย".split(),
    "he": "שלום עולם".split(),
}
EMOJI = ["😀", "🎉", "👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣", "🤖", "❤️", "🧪", "🙂"]
DECOMPOSED = ["e\u0301", "a\u0308", "o\u0303", "n\u0303", "A\u030a", "c\u0327", "u\u0308\u0301", "x\u0323\u0307", "\u1e9b\u0323"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", " \t ", "\n", "\n\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000", "\u2028",
          "\u2003", "\x0b", "\x0c", "\x85", "      "]
PUNCT = list(".,;:!?-()[]{}\"'`~@#$%^&*_+=<>/\\|") + ["...", "?!", "--", "->", "==", "//", "/*", "**", "''", "“", "”", "«", "»", "—", "…", "¿", "¡"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "'VE", "'D", "'ſ", "'x", "'"]
ODD = ["\x1c", "\x1f", "\x7f", "\u200b", "\u200d", "\ufeff", "\u00ad", "ﬁ", "Ⅻ", "²", "½", "٣", "४", "①", "𝔘𝔫𝔦", "𐍈", "İ", "ß", "Ǆ"]


def fragment(rng, specials):
    kind = rng.random()
    if kind < 0.38:
        lang = rng.choice(list(WORDS))
        return rng.choice(WORDS[lang]) + (rng.choice(CONTRACTIONS) if lang == "en" and rng.random() < 0.2 else "")
    if kind < 0.50:
        return str(rng.randint(0, 10 ** rng.randint(1, 9)))
    if kind < 0.62:
        return rng.choice(PUNCT)
    if kind < 0.70:
        return rng.choice(EMOJI)
    if kind < 0.77:
        return rng.choice(DECOMPOSED) + rng.choice(["", "tre", "s"])
    if kind < 0.82:
        return rng.choice(ODD)
    if kind < 0.88:
        return rng.choice(specials)
    if kind < 0.92:
        return rng.choice(["[[note]]", "Hello", "HELLO", "don't", "I'M", "y'all", "it's", "we've"])
    return rng.choice(SPACES)


def line(rng, specials, max_parts=14):
    parts = []
    for _ in range(rng.randint(1, max_parts)):
        parts.append(fragment(rng, specials))
        if rng.random() < 0.7:
            parts.append(rng.choice([" ", " ", " ", "", "\t", "\n", "  "]))
    return "".join(parts)


def corpus(seed, count):
    rng = random.Random(seed)
    return [line(rng, [""]) for _ in range(count)]


def test_lines():
    rng = random.Random(2026)
    specials = sorted(set(LLAMA_SPECIALS + QWEN_SPECIALS))
    lines = [
        "", " ", "  ", "\n", "\r\n", "\t", "a", "Hello world", "Hello  world", "Hello world  ", " Hello",
        "don't DON'T Don'T they'RE we'Ve I'M you'Ll he'D it'ſ",
        "1234567890 12 123 1234 12345", "3.14159, -42, +7e10, 1,000,000", "x\u00b2 + y\u00b2 = z\u00b2",
        "café cafe\u0301 CAFÉ", "Ångström A\u030angstro\u0308m", "ﬁne ﬂow", "e\u0301\u0301\u0301",
        "你好，世界！这是一个测试。", "日本語のテキスト、カタカナ", "안녕하세요 세계", "مرحبا بالعالم", "नमस्ते दुनिया",
        "emoji 😀🎉👍🏽 family 👨‍👩‍👧 flag 🇫🇷 keycap 1️⃣", "tabs\tand\t\tmore\ttabs", "line one\n\n  indented\n\t\ttabbed",
        "trailing spaces   ", "   leading spaces", "mixed\r\nwindows\r\nlines\r\n", "many\n\n\n\nbreaks",
        " \n \n ", "\u3000ideographic\u3000space", "nbsp\u00a0here", "zero\u200bwidth", "soft\u00adhyphen",
        "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        "<|mdm_mask|><|mdm_mask|><|mdm_mask|>", "<|mask|> <|mask|>", "a<|eot_id|>b", "<|eot_id|", "<|im_end|>>",
        "[[note]] and [[note]][[note]]", "[[not]]", "URL https://example.com/path?q=1&r=2#frag",
        "code: def f(x):\n    return x**2 + 1  # comment", "!!!???...,,,", "\x1c\x1d\x1e\x1f", "\x0b\x0c\x85",
        "Supercalifragilisticexpialidocious" * 3, "ab" * 60, "9" * 40, " " * 30 + "x", "\n" * 12,
    ]
    while len(lines) < 1100:
        lines.append(line(rng, specials, max_parts=rng.choice([4, 8, 14, 30])))
    return lines


def save_json(path, value):
    # Raw UTF-8, except U+FEFF: Foundation's JSON parser on Linux drops a raw U+FEFF that follows
    # an escape, so it is written escaped.
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("\ufeff", "\\ufeff"))
        f.write("\n")


def make_llama(folder):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=256 + 1400, special_tokens=LLAMA_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(11, 4000), trainer)
    tok.add_tokens([AddedToken("[[note]]", special=False, normalized=True)])
    bos = tok.token_to_id("<|startoftext|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|startoftext|> $A", special_tokens=[("<|startoftext|>", bos)]),
    ])
    spec = json.loads(tok.to_str())
    spec["model"]["ignore_merges"] = True   # as Llama-3's tokenizer.json
    tok = Tokenizer.from_str(json.dumps(spec))
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False, separators=(",", ":"))
    save_json(os.path.join(folder, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "clean_up_tokenization_spaces": False, "chat_template": LLADA_CHAT})
    return Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))


def make_gpt2(folder):
    """ByteLevel alone, splitting with its own GPT-2 regex (use_regex=True)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=256 + 700, special_tokens=["<|endoftext|>", "<|mdm_mask|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(13, 3000), trainer)
    tok.save(os.path.join(folder, "tokenizer.json"))
    return Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))


def make_qwen(folder):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=256 + 1200, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus(12, 4000), trainer)
    tok.model.save(folder)   # vocab.json, merges.txt ("#version: 0.2" first)
    size = tok.get_vocab_size()
    added = {t: size + i for i, t in enumerate(QWEN_SPECIALS)}
    save_json(os.path.join(folder, "added_tokens.json"), added)
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": None,
        "clean_up_tokenization_spaces": False, "model_max_length": 32768, "chat_template": DREAM_CHAT,
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for t, i in added.items()},
    }
    save_json(os.path.join(folder, "tokenizer_config.json"), config)
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(folder)


def chat_ids(folder):
    """The ids of each CHAT_MESSAGES prompt as the model's chat template renders and encodes it."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(folder)
    out = []
    for message in CHAT_MESSAGES:
        ids = tok.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True, tokenize=True)
        out.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    return out


def main():
    for name in ["llama", "qwen", "gpt2"]:
        shutil.rmtree(os.path.join(HERE, name), ignore_errors=True)
        os.makedirs(os.path.join(HERE, name))
    llama = make_llama(os.path.join(HERE, "llama"))
    qwen = make_qwen(os.path.join(HERE, "qwen"))
    gpt2 = make_gpt2(os.path.join(HERE, "gpt2"))
    lines = test_lines()
    llama_ids = [llama.encode(t).ids for t in lines]
    qwen_ids = [qwen(t)["input_ids"] for t in lines]
    cases = {
        "lines": lines,
        "chat_messages": CHAT_MESSAGES,
        "llama": {"ids": llama_ids, "chat_ids": chat_ids(os.path.join(HERE, "llama")), "decoded": [llama.decode(i, skip_special_tokens=False) for i in llama_ids],
                  "vocab_size": llama.get_vocab_size(with_added_tokens=True)},
        "qwen": {"ids": qwen_ids, "chat_ids": chat_ids(os.path.join(HERE, "qwen")), "decoded": [qwen.decode(i, skip_special_tokens=False) for i in qwen_ids],
                 "vocab_size": len(qwen)},
    }
    gpt2_ids = [gpt2.encode(t).ids for t in lines]
    cases["gpt2"] = {"ids": gpt2_ids, "decoded": [gpt2.decode(i, skip_special_tokens=False) for i in gpt2_ids],
                     "vocab_size": gpt2.get_vocab_size(with_added_tokens=True), "chat_ids": []}
    save_json(os.path.join(HERE, "cases.json"), cases)
    print(f"{len(lines)} lines; llama vocab {cases['llama']['vocab_size']}, qwen vocab {cases['qwen']['vocab_size']}")


if __name__ == "__main__":
    main()
