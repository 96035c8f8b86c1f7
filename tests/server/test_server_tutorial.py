"""The Gemini API tuning tutorial, its curl commands pasted with only the
base URL and the credentials changed, and its examples trained end to end."""
import json
import time

# The create command as published: the body keeps its trailing commas.
CREATE = r"""
curl -X POST $base_url/v1beta/tunedModels \
    -H 'Content-Type: application/json' \
    -H "Authorization: Bearer ${access_token}" \
    -H "x-goog-user-project: ${project_id}" \
    -d '
      {
        "display_name": "number generator model",
        "base_model": "models/gemini-1.0-pro-001",
        "tuning_task": {
          "hyperparameters": {
            "batch_size": 2,
            "learning_rate": 0.001,
          },
          "training_data": {
            "examples": {
              "examples": [
                  {
                    "text_input": "1",
                    "output": "2",
                  },{
                    "text_input": "3",
                    "output": "4",
                  },{
                    "text_input": "-3",
                    "output": "-2",
                  },{
                    "text_input": "twenty two",
                    "output": "twenty three",
                  },{
                    "text_input": "two hundred",
                    "output": "two hundred one",
                  },{
                    "text_input": "ninety nine",
                    "output": "one hundred",
                  },{
                    "text_input": "8",
                    "output": "9",
                  },{
                    "text_input": "-98",
                    "output": "-97",
                  },{
                    "text_input": "1,000",
                    "output": "1,001",
                  },{
                    "text_input": "10,100,000",
                    "output": "10,100,001",
                  },{
                    "text_input": "thirteen",
                    "output": "fourteen",
                  },{
                    "text_input": "eighty",
                    "output": "eighty one",
                  },{
                    "text_input": "one",
                    "output": "two",
                  },{
                    "text_input": "three",
                    "output": "four",
                  },{
                    "text_input": "seven",
                    "output": "eight",
                  }
              ]
            }
          }
        }
      }' | tee tunemodel.json
"""

LIST = r"""
curl -X GET ${base_url}/v1beta/tunedModels \
    -H "Content-Type: application/json" \
    -H "Authorization: Bearer ${access_token}" \
    -H "x-goog-user-project: ${project_id}"
"""

GET_STATE = r"""
curl -X GET ${base_url}/v1beta/${modelname} \
    -H 'Content-Type: application/json' \
    -H "Authorization: Bearer ${access_token}" \
    -H "x-goog-user-project: ${project_id}" | grep state
"""

GENERATE = r"""
curl -X POST $base_url/v1beta/$modelname:generateContent \
    -H 'Content-Type: application/json' \
    -H "Authorization: Bearer ${access_token}" \
    -H "x-goog-user-project: ${project_id}" \
    -d '{
        "contents": [{
        "parts": [{
          "text": "LXIII"
          }]
        }]
        }' 2> /dev/null
"""

TOKEN = "ya29.local-test-token"


def test_tutorial_curl_commands(server_factory, tmp_path, curl):
    kf = tmp_path / "key"
    kf.write_text(TOKEN)
    s = server_factory("--api-key-file", str(kf), "--seed", "3")
    env = {"access_token": TOKEN, "project_id": "my-project-id", "base_url": s.url}
    script_dir = f"cd {tmp_path} && "

    assert json.loads(curl(LIST, env)) == {}
    op = json.loads(curl(script_dir + CREATE, env))
    assert op["metadata"]["totalSteps"] == 38
    assert op["metadata"]["tunedModel"].startswith("tunedModels/number-generator-model-")
    assert op["name"].startswith(op["metadata"]["tunedModel"] + "/operations/")
    # The tutorial's next step reads the name back from tunemodel.json.
    with open(tmp_path / "tunemodel.json") as f:
        env["modelname"] = json.load(f)["metadata"]["tunedModel"]
    for _ in range(600):  # the tutorial polls every 5 s; the local trainer is quicker
        st, m, _ = s.request("GET", "/v1beta/" + env["modelname"],
                             headers={"x-goog-api-key": TOKEN})
        if m["state"] != "CREATING":
            break
        time.sleep(0.1)
    assert curl(GET_STATE, env).strip() == '"state": "ACTIVE",'
    answer = json.loads(curl(GENERATE, env))
    cand = answer["candidates"][0]
    assert cand["content"]["role"] == "model" and cand["finishReason"] in ("STOP",
                                                                          "MAX_TOKENS")
    assert isinstance(cand["content"]["parts"][0]["text"], str)
    listed = json.loads(curl(LIST, env))
    assert [m["name"] for m in listed["tunedModels"]] == [env["modelname"]]
    snaps = listed["tunedModels"][0]["tuningTask"]["snapshots"]
    assert len(snaps) == 38 and snaps[-1]["step"] == 38 and snaps[-1]["epoch"] == 5
    # Wrong credentials are refused.
    env["access_token"] = "ya29.someone-else"
    assert json.loads(curl(LIST, env))["error"]["code"] == 403


def test_tutorial_examples_train(server_factory, make_model):
    """The tutorial's data, trained for real: the loss falls and the model answers its
    own training inputs (the accuracy bar itself is the trainer's bench)."""
    from tests.server.conftest import number_examples  # tests/server/conftest.py
    s = server_factory("--seed", "11")
    ex = number_examples()
    op, m = make_model(s, "numbers", examples=ex, epochs=100, batch=4, lr=0.001)
    assert op["metadata"]["totalSteps"] == 375
    assert m["state"] == "ACTIVE"
    snaps = m["tuningTask"]["snapshots"]
    assert len(snaps) == 375
    assert snaps[-1]["meanLoss"] < snaps[0]["meanLoss"] / 4
    right = 0
    for e in ex:
        st, r, _ = s.request("POST", "/v1beta/tunedModels/numbers:generateContent",
                             {"contents": [{"parts": [{"text": e["text_input"]}]}],
                              "generationConfig": {"temperature": 0}})
        assert st == 200
        right += r["candidates"][0]["content"]["parts"][0]["text"] == e["output"]
    assert right >= 10, right
