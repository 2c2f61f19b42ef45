// Command kube is the lab's real Kubernetes control plane in one binary, the way k3s packages
// it: k3s links kube-apiserver, kube-controller-manager, kube-scheduler and kubectl into its own
// binary and picks one by the name it was run as (k3s cmd/server/main.go: a kubectl symlink runs
// kubectl; pkg/daemons/executor/embed.go starts the others from their app packages). One binary
// compiles the shared Kubernetes packages once and links once, instead of five times; build.sh
// makes a symlink for each name below.
//
// Each entry calls the same constructor as upstream's own main for that command (named beside
// it), with the same registrations that main imports; nothing here changes their behaviour.
//
//	kube-apiserver          k8s.io/kubernetes cmd/kube-apiserver/apiserver.go
//	kube-controller-manager k8s.io/kubernetes cmd/kube-controller-manager/controller-manager.go
//	kube-scheduler          k8s.io/kubernetes cmd/kube-scheduler/scheduler.go
//	kubectl                 k8s.io/kubernetes cmd/kubectl/kubectl.go
//	kwok                    sigs.k8s.io/kwok cmd/kwok/main.go (the kubelet's stand-in: no containers here)
//
// Run as "kube <command> [args]" it does the same as the symlink <command>.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // the apiserver and controller-manager mains import it, for CronJob time zones

	"github.com/spf13/pflag"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream's mains
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream's mains
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream's mains
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kwokconfig "sigs.k8s.io/kwok/pkg/config"
	kwokcmd "sigs.k8s.io/kwok/pkg/kwok/cmd"
	kwoklog "sigs.k8s.io/kwok/pkg/log"
	kwoksignals "sigs.k8s.io/kwok/pkg/utils/signals"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's main imports it: client auth plugins
)

var commands = map[string]func() int{
	"kube-apiserver":          func() int { return cli.Run(apiserver.NewAPIServerCommand()) },
	"kube-controller-manager": func() int { return cli.Run(controllermanager.NewControllerManagerCommand()) },
	"kube-scheduler":          func() int { return cli.Run(scheduler.NewSchedulerCommand()) },
	"kubectl":                 kubectl,
	"kwok":                    kwok,
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := commands[name]; !ok && len(os.Args) > 1 {
		// "kube <command> args...": the command sees itself as argv[0], as from its symlink.
		name = os.Args[1]
		os.Args = append([]string{name}, os.Args[2:]...)
	}
	run, ok := commands[name]
	if !ok {
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: kube <command> [args] (or a symlink named after it); commands: %v\n", names)
		os.Exit(2)
	}
	os.Exit(run())
}

// kubectl follows cmd/kubectl/kubectl.go: the verbosity is set before the command is built.
func kubectl() int {
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err) // prints the error and exits 1, as upstream's kubectl
	}
	return 0
}

// kwok follows sigs.k8s.io/kwok cmd/kwok/main.go. In its own binary kwok starts with an empty
// global pflag set; here the Kubernetes packages have registered theirs on it (component-base's
// verflag adds a non-bool --version that cobra then reads as kwok's bool --version and fails), so
// kwok gets a fresh one, as it would have alone.
func kwok() int {
	pflag.CommandLine = pflag.NewFlagSet(os.Args[0], pflag.ExitOnError)
	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsAllowlist.UnknownFlags = true
	flagset.Usage = func() {}
	ctx := kwoksignals.SetupSignalContext()
	ctx, logger := kwoklog.InitFlags(ctx, flagset)
	ctx, err := kwokconfig.InitFlags(ctx, flagset)
	if err != nil {
		_, _ = os.Stderr.Write([]byte(flagset.FlagUsages()))
		logger.Error("Init config flags", "err", err)
		return 1
	}
	command := kwokcmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", "err", err)
		return 1
	}
	return 0
}
