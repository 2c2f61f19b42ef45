package main

import "strings"

// schema is a trimmed Pulumi package schema: the two implemented resources
// with their property types, no descriptions. The engine does not need it to
// run a Node.js program; it is here so that `pulumi package get-schema` and
// similar tooling get a truthful answer about what this stand-in offers.
func schema() []byte {
	return []byte(strings.ReplaceAll(schemaTemplate, "VERSION", pluginVersion().String()))
}

const schemaTemplate = `{
  "name": "command",
  "version": "VERSION",
  "description": "Stand-in for the Pulumi command provider (remote:Command, local:Command only).",
  "config": {},
  "provider": {"type": "object"},
  "types": {
    "command:remote:Logging": {"type": "string", "enum": [
      {"value": "stdout"}, {"value": "stderr"}, {"value": "stdoutAndStderr"}, {"value": "none"}]},
    "command:local:Logging": {"type": "string", "enum": [
      {"value": "stdout"}, {"value": "stderr"}, {"value": "stdoutAndStderr"}, {"value": "none"}]},
    "command:remote:Connection": {
      "type": "object",
      "properties": {
        "host": {"type": "string"},
        "port": {"type": "number", "default": 22},
        "user": {"type": "string", "default": "root"},
        "password": {"type": "string"},
        "privateKey": {"type": "string"},
        "privateKeyPassword": {"type": "string"},
        "hostKey": {"type": "string"},
        "agentSocketPath": {"type": "string"},
        "dialErrorLimit": {"type": "integer", "default": 10},
        "perDialTimeout": {"type": "integer", "default": 15}
      },
      "required": ["host"]
    }
  },
  "resources": {
    "command:remote:Command": {
      "inputProperties": {
        "connection": {"$ref": "#/types/command:remote:Connection", "secret": true},
        "create": {"type": "string"},
        "update": {"type": "string"},
        "delete": {"type": "string"},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "stdin": {"type": "string"},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
        "addPreviousOutputInEnv": {"type": "boolean", "default": true},
        "logging": {"$ref": "#/types/command:remote:Logging"}
      },
      "requiredInputs": ["connection"],
      "properties": {
        "connection": {"$ref": "#/types/command:remote:Connection", "secret": true},
        "create": {"type": "string"},
        "update": {"type": "string"},
        "delete": {"type": "string"},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "stdin": {"type": "string"},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
        "addPreviousOutputInEnv": {"type": "boolean"},
        "logging": {"$ref": "#/types/command:remote:Logging"},
        "stdout": {"type": "string"},
        "stderr": {"type": "string"}
      },
      "required": ["connection", "stdout", "stderr"]
    },
    "command:local:Command": {
      "inputProperties": {
        "create": {"type": "string"},
        "update": {"type": "string"},
        "delete": {"type": "string"},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "stdin": {"type": "string"},
        "dir": {"type": "string"},
        "interpreter": {"type": "array", "items": {"type": "string"}},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
        "addPreviousOutputInEnv": {"type": "boolean", "default": true},
        "logging": {"$ref": "#/types/command:local:Logging"}
      },
      "properties": {
        "create": {"type": "string"},
        "update": {"type": "string"},
        "delete": {"type": "string"},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "stdin": {"type": "string"},
        "dir": {"type": "string"},
        "interpreter": {"type": "array", "items": {"type": "string"}},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
        "addPreviousOutputInEnv": {"type": "boolean"},
        "logging": {"$ref": "#/types/command:local:Logging"},
        "stdout": {"type": "string"},
        "stderr": {"type": "string"}
      },
      "required": ["stdout", "stderr"]
    }
  }
}`
