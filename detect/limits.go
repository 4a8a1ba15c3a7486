package detect

import (
	"fmt"
	"regexp/syntax"
)

// RuleLimits bound what one rule may ask of the engine, so that a hostile or careless rule
// cannot hang or exhaust the agent. A rule over a limit is reported and left out; the others
// load. Zero fields mean the defaults, which are well above what any SigmaHQ rule needs (its
// longest regular expression is 217 bytes; its largest compiles to about 1000 instructions).
type RuleLimits struct {
	// MaxRegexBytes bounds the source of a regular expression (default 4096).
	MaxRegexBytes int
	// MaxRegexProgram bounds the instructions of a compiled regular expression (default
	// 5000). Regular expressions are RE2 (linear in the input), but time per byte grows with
	// the program: this bounds the cost of one match.
	MaxRegexProgram int
	// MaxValueVariants bounds the patterns one rule value expands into through expand
	// (every combination of placeholder values), windash followed by encodings, and
	// base64offset (default 4096).
	MaxValueVariants int
	// MaxConditionDepth bounds the nesting of parentheses and 'not' in a condition (default 64).
	MaxConditionDepth int
}

// Default rule limits.
const (
	DefaultMaxRegexBytes     = 4096
	DefaultMaxRegexProgram   = 5000
	DefaultMaxValueVariants  = 4096
	DefaultMaxConditionDepth = 64
)

func (l RuleLimits) withDefaults() RuleLimits {
	if l.MaxRegexBytes <= 0 {
		l.MaxRegexBytes = DefaultMaxRegexBytes
	}
	if l.MaxRegexProgram <= 0 {
		l.MaxRegexProgram = DefaultMaxRegexProgram
	}
	if l.MaxValueVariants <= 0 {
		l.MaxValueVariants = DefaultMaxValueVariants
	}
	if l.MaxConditionDepth <= 0 {
		l.MaxConditionDepth = DefaultMaxConditionDepth
	}
	return l
}

// checkRegex rejects a regular expression whose source or compiled program is over the limits.
// Parse errors are left to compileRegex, which reports them.
func (l RuleLimits) checkRegex(src, flags string) error {
	if len(src) > l.MaxRegexBytes {
		return fmt.Errorf("regular expression of %d bytes is over the limit of %d (rule_limits.max_regex_bytes)", len(src), l.MaxRegexBytes)
	}
	if flags != "" {
		src = "(?" + flags + ")" + src
	}
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	if m := dotRepeat.FindStringSubmatch(src); m != nil {
		return nil // compiled as a length check, not a regular expression
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	if len(prog.Inst) > l.MaxRegexProgram {
		return fmt.Errorf("regular expression compiles to %d instructions, over the limit of %d (rule_limits.max_regex_program)", len(prog.Inst), l.MaxRegexProgram)
	}
	return nil
}

// errTooManyVariants reports a value that expands past MaxValueVariants.
func errTooManyVariants(max int) error {
	return fmt.Errorf("the value expands into more than %d patterns (rule_limits.max_value_variants)", max)
}
