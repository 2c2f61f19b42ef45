package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// runLocal runs script through interpreter (default /bin/sh -c, as upstream)
// on this machine, with env added to the provider's own environment.
func runLocal(ctx context.Context, interpreter []string, dir *string, script string, env map[string]string,
	stdin *string, out *outputSink,
) error {
	if len(interpreter) == 0 {
		interpreter = []string{"/bin/sh", "-c"}
	}
	args := append(append([]string{}, interpreter[1:]...), script)
	cmd := exec.CommandContext(ctx, interpreter[0], args...)
	if dir != nil {
		cmd.Dir = *dir
	}
	cmd.Env = os.Environ()
	for _, k := range sortedKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	if stdin != nil && *stdin != "" {
		cmd.Stdin = strings.NewReader(*stdin)
	}
	cmd.Stdout, cmd.Stderr = out.stdoutWriter(), out.stderrWriter()
	err := cmd.Run()
	out.flush()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("local command was cancelled: %w", ctx.Err())
	}
	// Never quote the script: it may carry secrets.
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("local command failed with exit status %d%s", exit.ExitCode(), out.stderrTail())
	}
	return fmt.Errorf("local command could not run: %w", err)
}
