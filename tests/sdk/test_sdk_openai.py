"""OpenAI's own `openai` npm package, unmodified, against tunedfs-server's OpenAI routes:
files.create, fineTuning.jobs create/retrieve/list/listEvents/cancel, checkpoints.list,
chat.completions.create (plain and stream: true), models.retrieve and delete; the job is made
with a validation_file, which comes back on it with a validation loss in its checkpoint."""
import json

from ..server.conftest import number_examples
from .conftest import run_node


def chat_lines(examples):
    return "".join(json.dumps({"messages": [
        {"role": "user", "content": e["text_input"]},
        {"role": "assistant", "content": e["output"]}]}) + "\n" for e in examples)


def test_openai_sdk(server_factory, tmp_path, node):
    server = server_factory()
    examples = number_examples()
    train = tmp_path / "train.jsonl"
    train.write_text(chat_lines(examples))
    long = tmp_path / "long.jsonl"
    long.write_text(chat_lines([{"text_input": "a" * 200, "output": "b" * 200}] * 30))
    out = json.loads(run_node(node, "openai_sdk.mjs", server.url, str(train), str(long)))
    assert out["file"]["id"].startswith("file-") and out["file"]["purpose"] == "fine-tune"
    assert out["file"]["bytes"] == train.stat().st_size
    assert out["cancel"]["status"] == "cancelled" and out["cancelled"] == "cancelled"
    assert out["done"]["status"] == "succeeded" and out["done"]["epochs"] == 50
    assert out["done"]["metadata"] == {"tunedfs-name": "ng"}
    assert out["done"]["model"].startswith("ft:gpt-4o-mini-2024-07-18:")
    assert len(out["listed"]) == 2 and len(set(out["listed"])) == 2  # one a page
    assert out["events"] > 750 and out["firstEvent"].startswith("Validating training file")
    assert out["checkpoints"] == [750]
    assert out["done"]["validation"] == out["file"]["id"]
    assert len(out["validLoss"]) == 1 and 0 < out["validLoss"][0] < 1, out["validLoss"]
    want = {e["text_input"]: e["output"] for e in examples}
    for prompt, text in out["answers"].items():
        assert text == want[prompt], (prompt, text)
    assert out["streamed"]["text"] == want["ninety nine"] and out["streamed"]["chunks"] >= 3
    assert out["retrieved"] == out["done"]["model"]
    assert out["deleted"] is True and out["afterDelete"] == 404
