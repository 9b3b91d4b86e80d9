package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// readSecret returns a password or secret: one line of standard input with fromStdin, otherwise
// typed twice at a prompt with no echo.
func readSecret(cmd *cobra.Command, fromStdin bool, what string) (string, error) {
	if fromStdin {
		return readLine(cmd.InOrStdin())
	}
	// The prompt reads the command's own input (cmd.SetIn), never a different os.Stdin.
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", fmt.Errorf("standard input is not a terminal: pipe the %s with --%s-stdin", what, what)
	}
	fd := int(in.Fd())
	fmt.Fprintf(cmd.ErrOrStderr(), "New %s: ", what)
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Repeat %s: ", what)
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	if string(first) != string(second) {
		return "", fmt.Errorf("the two %ss differ", what)
	}
	return string(first), nil
}

// maxLine is the longest line readLine accepts, in bytes.
const maxLine = 4096

// readLine reads one line, without its line ending. A longer line is refused, never cut short.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxLine+1)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("standard input held no line")
	}
	if len(line) > maxLine {
		return "", fmt.Errorf("the line on standard input is longer than %d bytes", maxLine)
	}
	return line, nil
}

// checkName refuses names that would be confusing or hostile in logs and tokens.
func checkName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", kind)
	case len(name) > 256:
		return fmt.Errorf("%s is longer than 256 bytes", kind)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%s starts or ends with white space", kind)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }):
		return fmt.Errorf("%s contains control characters or invalid UTF-8", kind)
	}
	return nil
}
