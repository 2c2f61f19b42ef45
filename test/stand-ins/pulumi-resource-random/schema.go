package main

import "strings"

// schema is a trimmed Pulumi package schema naming only what this stand-in
// implements, with property types and no descriptions. The engine does not
// need it to run a Node.js program.
func schema() []byte {
	return []byte(strings.ReplaceAll(schemaTemplate, "VERSION", pluginVersion().String()))
}

const stringInputs = `
        "length": {"type": "integer"},
        "special": {"type": "boolean"},
        "upper": {"type": "boolean"},
        "lower": {"type": "boolean"},
        "numeric": {"type": "boolean"},
        "number": {"type": "boolean", "deprecationMessage": "use numeric"},
        "minUpper": {"type": "integer"},
        "minLower": {"type": "integer"},
        "minNumeric": {"type": "integer"},
        "minSpecial": {"type": "integer"},
        "overrideSpecial": {"type": "string"},
        "keepers": {"type": "object", "additionalProperties": {"type": "string"}}`

const schemaTemplate = `{
  "name": "random",
  "version": "VERSION",
  "description": "Stand-in for the Pulumi random provider (RandomPassword, RandomString, RandomId only).",
  "config": {},
  "provider": {"type": "object"},
  "resources": {
    "random:index/randomPassword:RandomPassword": {
      "inputProperties": {` + stringInputs + `},
      "requiredInputs": ["length"],
      "properties": {` + stringInputs + `,
        "result": {"type": "string", "secret": true},
        "bcryptHash": {"type": "string", "secret": true}},
      "required": ["length", "result", "bcryptHash"]
    },
    "random:index/randomString:RandomString": {
      "inputProperties": {` + stringInputs + `},
      "requiredInputs": ["length"],
      "properties": {` + stringInputs + `,
        "result": {"type": "string"}},
      "required": ["length", "result"]
    },
    "random:index/randomId:RandomId": {
      "inputProperties": {
        "byteLength": {"type": "integer"},
        "prefix": {"type": "string"},
        "keepers": {"type": "object", "additionalProperties": {"type": "string"}}},
      "requiredInputs": ["byteLength"],
      "properties": {
        "byteLength": {"type": "integer"},
        "prefix": {"type": "string"},
        "keepers": {"type": "object", "additionalProperties": {"type": "string"}},
        "b64Std": {"type": "string"},
        "b64Url": {"type": "string"},
        "dec": {"type": "string"},
        "hex": {"type": "string"}},
      "required": ["byteLength", "b64Std", "b64Url", "dec", "hex"]
    }
  }
}`
