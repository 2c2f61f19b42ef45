// The only way the program makes a @pulumi/command resource, so that every one of them gets the
// settings upstream's defaults get wrong for us.
//
// addPreviousOutputInEnv: upstream defaults it on and, on every update and delete, sets
// PULUMI_COMMAND_STDOUT/STDERR with the SSH "env" request (pulumi-command v1.2.1,
// provider/pkg/provider/remote/commandOutputs.go); Debian's and Raspberry Pi OS's sshd refuse
// such requests (AcceptEnv lists only LANG and LC_*), so each one logs a warning
// (pulumi/pulumi-command#584). No script of ours reads those variables, and for the token and
// kubeconfig reads they would carry secrets: turned off everywhere.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

export function remoteCommand(name: string, args: command.remote.CommandArgs, opts?: pulumi.CustomResourceOptions): command.remote.Command {
    return new command.remote.Command(name, { ...args, addPreviousOutputInEnv: false }, opts);
}

export function localCommand(name: string, args: command.local.CommandArgs, opts?: pulumi.CustomResourceOptions): command.local.Command {
    return new command.local.Command(name, { ...args, addPreviousOutputInEnv: false }, opts);
}
