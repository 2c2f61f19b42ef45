// Command pulumi-language-nodejs is this project's STAND-IN for Pulumi's Node.js language host.
//
// Why it exists: the upstream host lives in the Go module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, which the Go module proxy
// reachable from our machines refuses (403 "not available" for v3.274.1, v3.274.0, v3.270.0,
// v3.260.0 and for the version list). The CLI itself (pkg/v3) is served and built for real by
// tools/toolchain.sh; only this one plugin is replaced. When the upstream module becomes
// reachable, build it instead and delete this directory.
//
// What it does: the engine starts it with the engine's gRPC address as the only argument; it serves
// pulumirpc.LanguageRuntime on a free localhost port and prints that port on stdout, like every
// Pulumi plugin. Run starts `node <...>/node_modules/@pulumi/pulumi/cmd/run` with the same
// command line and environment contract as the upstream host (read from its source and from the
// SDK's cmd/run/*.js), so the SDK runs the program (TypeScript through ts-node, because
// PULUMI_NODEJS_TYPESCRIPT=true unless Pulumi.yaml says `typescript: false`).
//
// Deliberate differences from upstream (keep this list honest when changing the code):
//   - No resource-monitor proxy and no synchronous-invoke pipes (--sync): the program talks to the
//     engine's monitor directly. The SDK treats --sync as optional; it only served deprecated
//     synchronous invokes.
//   - No debugger attach, no bun runtime, no OOM sniffing, no fnm/.nvmrc handling, no tracing.
//   - InstallDependencies runs `npm ci --ignore-scripts` only when the program directory has a
//     package-lock.json and no node_modules; otherwise it does nothing (tools/setup.sh installs).
//   - GetProgramDependencies lists direct dependencies of the nearest package.json only.
//   - RunPlugin (component providers, policy packs), code generation and Pack are unimplemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Exit code with which the SDK's run script says "I already printed an actionable error";
// the host then asks the engine to bail out without adding messages of its own.
const exitCodeErrorAlreadyReported = 32

// runScript is the SDK's entry point, relative to a node_modules directory.
const runScript = "@pulumi/pulumi/cmd/run"

func main() {
	flag.String("tracing", "", "accepted for compatibility with the upstream host; ignored")
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

	host := &languageHost{}
	if args := flag.Args(); len(args) > 0 {
		host.engineAddress = args[0]
	}

	// Stop serving on Ctrl-C, or when the engine goes away (the health check cancels ctx).
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if host.engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, host.engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check: %w", err))
		}
	}
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from our first stdout line
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
}

// Handshake is only used when the engine attaches to an already running host
// (PULUMI_DEBUG_LANGUAGES); normally the address arrives as the command-line argument.
func (h *languageHost) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// ---------------------------------------------------------------------------------------------
// Required plugins: every package.json inside a node_modules tree under the program directory
// whose "pulumi" block says resource:true names a provider plugin (name and version).

type packageJSON struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	Pulumi          struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackageJSON(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return &p, nil
}

// pluginOf returns the plugin a package asks for, or ok=false if it is not a provider SDK.
func pluginOf(p *packageJSON) (name, ver string, ok bool) {
	if !p.Pulumi.Resource {
		return "", "", false
	}
	name = p.Pulumi.Name
	if name == "" {
		if !strings.HasPrefix(p.Name, "@pulumi/") {
			return "", "", false // third-party SDKs must name their plugin; skip rather than guess
		}
		name = strings.TrimPrefix(p.Name, "@pulumi/")
	}
	ver = p.Pulumi.Version
	if ver == "" {
		ver = p.Version
	}
	if ver != "" && !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	return name, ver, true
}

// findPackages walks dir (following symlinks once per real path, skipping dot-directories such as
// .git, .toolchain and .state) and collects provider plugins declared in node_modules.
func findPackages(dir string) ([]*pulumirpc.PackageDependency, error) {
	seenDirs := map[string]bool{}
	seenDeps := map[string]bool{}
	var deps []*pulumirpc.PackageDependency
	var walk func(dir string, inNodeModules bool) error
	walk = func(dir string, inNodeModules bool) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || seenDirs[real] {
			return nil // dangling link or already visited
		}
		seenDirs[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			isDir := e.IsDir()
			if e.Type()&fs.ModeSymlink != 0 {
				if fi, err := os.Stat(path); err == nil {
					isDir = fi.IsDir()
				}
			}
			switch {
			case isDir && !strings.HasPrefix(e.Name(), "."):
				if err := walk(path, inNodeModules || filepath.Base(dir) == "node_modules"); err != nil {
					return err
				}
			case inNodeModules && e.Name() == "package.json":
				p, err := readPackageJSON(path)
				if err != nil {
					logging.V(3).Infof("skipping %s: %v", path, err)
					continue
				}
				if name, ver, ok := pluginOf(p); ok && !seenDeps[name+"@"+ver] {
					seenDeps[name+"@"+ver] = true
					deps = append(deps, &pulumirpc.PackageDependency{
						Name: name, Kind: "resource", Version: ver, Server: p.Pulumi.Server,
					})
				}
			}
		}
		return nil
	}
	err := walk(dir, false)
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return deps, err
}

func (h *languageHost) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := findPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages, kept for older engines.
func (h *languageHost) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram()
	}
	deps, err := findPackages(dir)
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, len(deps))
	for i, d := range deps {
		plugins[i] = &pulumirpc.PluginDependency{Name: d.Name, Kind: d.Kind, Version: d.Version, Server: d.Server}
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// ---------------------------------------------------------------------------------------------
// Run

// options are the `runtime.options` of Pulumi.yaml that this host understands.
type options struct {
	typescript bool   // run .ts through ts-node (default true)
	tsconfig   string // PULUMI_NODEJS_TSCONFIG_PATH
	nodeargs   string // extra arguments for node, split on whitespace (upstream uses shell quoting)
}

func parseOptions(info *pulumirpc.ProgramInfo) (options, error) {
	opts := options{typescript: true}
	m := info.GetOptions().AsMap()
	if v, ok := m["typescript"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return opts, errors.New("runtime option typescript must be a boolean")
		}
		opts.typescript = b
	}
	for key, dst := range map[string]*string{"tsconfig": &opts.tsconfig, "nodeargs": &opts.nodeargs} {
		if v, ok := m[key]; ok {
			s, isString := v.(string)
			if !isString {
				return opts, fmt.Errorf("runtime option %s must be a string", key)
			}
			*dst = s
		}
	}
	return opts, nil
}

// findUp returns the first <dir or ancestor>/rel that exists, the way Node resolves packages.
func findUp(dir, rel string) (string, bool) {
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	fail := func(format string, a ...any) (*pulumirpc.RunResponse, error) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf(format, a...)}, nil
	}

	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return fail("could not find node on the $PATH: %v", err)
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH") // same override as upstream
	if runPath == "" {
		p, ok := findUp(programDir, filepath.Join("node_modules", runScript))
		if !ok {
			return fail("It looks like the Pulumi SDK has not been installed (no node_modules/%s above %s). "+
				"Run tools/setup.sh (npm ci --ignore-scripts).", runScript, programDir)
		}
		runPath = p
	}
	opts, err := parseOptions(info)
	if err != nil {
		return fail("%v", err)
	}

	// Config goes in as JSON in PULUMI_CONFIG. Like upstream we present keys in the old
	// "<namespace>:config:<name>" form, which every SDK version understands.
	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return fail("bad config key %q: %v", k, err)
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return fail("failed to serialize configuration: %v", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return fail("failed to serialize secret config keys: %v", err)
	}

	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	// Command line understood by cmd/run (see its usage()): flags, then the program, then its args.
	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()
	args := strings.Fields(opts.nodeargs)
	args = append(args, runPath)
	flagArg := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", engine)
	flagArg("organization", req.GetOrganization())
	flagArg("project", req.GetProject())
	flagArg("root-directory", info.GetRootDirectory())
	flagArg("stack", req.GetStack())
	flagArg("pwd", programDir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagArg("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)
	logging.V(5).Infof("launching %s %s", nodeBin, strings.Join(args, " "))

	// If the engine gives up on the request, interrupt node first and kill it 5 s later.
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	// Wrap our stdout/stderr so exec copies through a pipe instead of handing node our file
	// descriptors: node may switch its stdio to non-blocking mode, which would affect us.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}

	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitCodeErrorAlreadyReported:
		// The SDK already showed the user the error; tell the engine not to add more noise.
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return fail("Program exited with non-zero exit code: %d", exitErr.ExitCode())
	default:
		return fail("Problem executing program (could not run node): %v", err)
	}
}

// ---------------------------------------------------------------------------------------------
// Dependencies and `pulumi about`

func (h *languageHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	_, hasLock := findIn(dir, "package-lock.json")
	_, hasModules := findIn(dir, "node_modules")
	if !hasLock || hasModules {
		fmt.Fprintf(stdout, "stand-in language host: not installing anything in %s "+
			"(node_modules present or no package-lock.json; tools/setup.sh installs the repo's packages)\n", dir)
		return closer.Close()
	}
	fmt.Fprintf(stdout, "Installing dependencies with npm ci --ignore-scripts in %s...\n", dir)
	cmd := exec.CommandContext(server.Context(), "npm", "ci", "--ignore-scripts")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci --ignore-scripts failed: %w", err)
	}
	return closer.Close()
}

func findIn(dir, name string) (string, bool) {
	p := filepath.Join(dir, name)
	_, err := os.Stat(p)
	return p, err == nil
}

func (h *languageHost) About(ctx context.Context, _ *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	out, _ := exec.CommandContext(ctx, nodeBin, "--version").Output()
	return &pulumirpc.AboutResponse{
		Executable: nodeBin,
		Version:    strings.TrimSpace(string(out)),
		Metadata:   map[string]string{"packagemanager": "npm", "languageHost": "stand-in"},
	}, nil
}

// GetProgramDependencies lists the direct dependencies of the program's nearest package.json with
// the versions installed in node_modules (resolved the way Node would, walking up).
func (h *languageHost) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	manifest, ok := findUp(dir, "package.json")
	if !ok {
		return nil, fmt.Errorf("no package.json found above %s", dir)
	}
	p, err := readPackageJSON(manifest)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(p.Dependencies)+len(p.DevDependencies))
	for n := range p.Dependencies {
		names = append(names, n)
	}
	for n := range p.DevDependencies {
		if _, dup := p.Dependencies[n]; !dup {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, n := range names {
		installed := "(not installed)"
		if path, ok := findUp(filepath.Dir(manifest), filepath.Join("node_modules", n, "package.json")); ok {
			if dep, err := readPackageJSON(path); err == nil {
				installed = dep.Version
			}
		}
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: n, Version: installed})
	}
	return resp, nil
}
