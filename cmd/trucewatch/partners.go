package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"text/tabwriter"
	"time"

	"github.com/trucewatch/trucewatch/intake/partners"
)

const partnersUsage = `Manage the API keys field partners use to send reports over HTTPS (POST /v1/reports
on trucewatch serve). The keys file keeps only SHA-256 hashes; a running server
re-reads it within a second of a change, so revocation needs no restart.

  partners add    NAME   make a key for partner NAME and print it (shown only once);
                         NAME becomes the partner_id of every report sent with the key.
                         Adding a key to an existing partner rotates: both work until
                         the old ones are revoked.
  partners list          list every key (name, key id, created, revoked)
  partners revoke NAME [KEY_ID]
                         revoke every key of partner NAME, or only the key KEY_ID
                         (as list shows it): how an old key is retired after a rotation`

func runPartners(ctx context.Context, args []string, std stdio) error {
	fl := newFlags("partners", "add|list|revoke [--keys FILE] [NAME [KEY_ID]]", partnersUsage, std)
	keysFile := fl.String("keys", "var/partners.json", "partner keys file (JSON, mode 0600)")
	asJSON := fl.Bool("json", false, "list: print JSON instead of a table")
	if len(args) == 0 {
		fl.Usage()
		return errUsage
	}
	action := args[0]
	if action == "-h" || action == "--help" || action == "help" {
		fl.Usage()
		return flag.ErrHelp
	}
	names, err := parseInterspersed(fl, args[1:])
	if err != nil {
		return err
	}
	switch action {
	case "add":
		if len(names) != 1 {
			fmt.Fprintf(std.err, "trucewatch partners %s: want exactly one partner NAME, got %d\n", action, len(names))
			return errUsage
		}
		return partnersAdd(std, *keysFile, names[0])
	case "list":
		if len(names) != 0 {
			fmt.Fprintln(std.err, "trucewatch partners list: takes no NAME")
			return errUsage
		}
		return partnersList(std, *keysFile, *asJSON)
	case "revoke":
		if len(names) != 1 && len(names) != 2 {
			fmt.Fprintf(std.err, "trucewatch partners revoke: want NAME [KEY_ID], got %d arguments\n", len(names))
			return errUsage
		}
		return partnersRevoke(std, *keysFile, names)
	default:
		fmt.Fprintf(std.err, "trucewatch partners: unknown action %q (want add, list or revoke)\n\n", action)
		fl.Usage()
		return errUsage
	}
}

// parseInterspersed parses args whose flags may come before or after the
// positional arguments, and returns those.
func parseInterspersed(fl *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := parseFlags(fl, args); err != nil {
			return nil, err
		}
		if fl.NArg() == 0 {
			return names, nil
		}
		names = append(names, fl.Arg(0))
		args = fl.Args()[1:]
	}
}

// partnersAdd makes a key for partner name and prints it, with how to
// retire older ones when this one rotates them.
func partnersAdd(std stdio, keysFile, name string) error {
	keys, err := partners.Create(keysFile)
	if err != nil {
		return err
	}
	rotating := false // the partner already has a valid key
	for _, p := range keys.List() {
		rotating = rotating || (p.Name == name && !p.Revoked())
	}
	key, err := keys.Add(name)
	if err != nil {
		return err
	}
	fmt.Fprintln(std.out, key)
	fmt.Fprintf(std.err, "New API key for partner %q above: it is shown only this once, hand it over securely.\n", name)
	fmt.Fprintln(std.err, "The partner sends it as: Authorization: Bearer KEY")
	if rotating {
		fmt.Fprintf(std.err, "%q has older keys that still work: once the partner has switched, retire them with\n  trucewatch partners revoke %s KEY_ID   (KEY_ID from trucewatch partners list; reports keep the same partner_id)\n", name, name)
	}
	return nil
}

// partnersList prints every key as a table, or as JSON.
func partnersList(std stdio, keysFile string, asJSON bool) error {
	keys, err := partners.Open(keysFile)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no keys file %s (trucewatch partners add makes it)", keysFile)
	}
	if err != nil {
		return err
	}
	list := keys.List()
	if asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTNER\tKEY ID\tCREATED\tSTATUS")
	for _, p := range list {
		status := "valid"
		if p.Revoked() {
			status = "revoked " + p.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.KeyID, p.CreatedAt.Format(time.RFC3339), status)
	}
	return tw.Flush()
}

// partnersRevoke revokes every key of partner args[0], or only the key
// args[1].
func partnersRevoke(std stdio, keysFile string, args []string) error {
	keys, err := partners.Open(keysFile)
	if err != nil {
		return err
	}
	what := "every key"
	if len(args) == 2 {
		err, what = keys.RevokeKey(args[0], args[1]), "key "+args[1]
	} else {
		err = keys.Revoke(args[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(std.err, "revoked %s of partner %q; running servers refuse it within %s\n", what, args[0], partners.ReloadInterval)
	return nil
}
