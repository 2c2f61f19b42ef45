// ESLint: typescript-eslint's type-aware rules plus Pulumi's rules that catch an
// Output interpolated into a template literal (use pulumi.interpolate instead).
const tseslint = require("typescript-eslint");
const pulumi = require("@pulumi/eslint-plugin");

module.exports = tseslint.config(
    { ignores: ["node_modules/**", "bin/**", ".toolchain/**", ".lab/**", ".state/**", "eslint.config.js", "**/*.js"] },
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
        },
    },
    {
        // node:test's test() returns a promise the runner itself awaits.
        files: ["test/**/*.test.ts"],
        rules: { "@typescript-eslint/no-floating-promises": "off" },
    },
);
