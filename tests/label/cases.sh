#!/bin/sh
# Our own label cases, through `liaisonctl label`: each validity rule of
# NOTES §3.2, each decision rule of §3.3, dominance, mapping both ways
# between the demonstration policies, markings in two languages, and
# exit 2 for malformed input.  Usage: cases.sh LIAISONCTL SRCDIR [DATADIR]
set -u
CTL=$1
SRC=$2
DATA=${3:-}
NATO=$SRC/policies/demo-nato.xml
ZO=$SRC/policies/demo-zoria.xml
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

# lbl FILE POLICY CLASS [TYPE:TAG:V1,V2]... writes a 4774 label with
# CreationDateTime and ReviewDateTime.
lbl() {
	f=$1 pol=$2 cls=$3
	shift 3
	{
		echo '<originatorConfidentialityLabel xmlns="urn:nato:stanag:4774:confidentialitymetadatalabel:1:0" ReviewDateTime="2031-01-01T00:00:00Z">'
		echo "<ConfidentialityInformation><PolicyIdentifier>$pol</PolicyIdentifier><Classification>$cls</Classification>"
		for c in "$@"; do
			ty=${c%%:*} rest=${c#*:}
			tag=${rest%%:*} vals=${rest#*:}
			printf '<Category Type="%s" TagName="%s">' "$ty" "$tag"
			echo "$vals" | tr ',' '\n' | while read -r v; do
				printf '<GenericValue>%s</GenericValue>' "$v"
			done
			echo '</Category>'
		done
		echo '</ConfidentialityInformation><CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime></originatorConfidentialityLabel>'
	} >"$T/$f"
}

# clr FILE POLICY CLASSES(comma) [TYPE:TAG:V1,V2]...
clr() {
	f=$1 pol=$2 cls=$3
	shift 3
	{
		echo '<sclr:ConfidentialityClearance xmlns:sclr="urn:nato:stanag:4774:confidentialityclearance:1:0" xmlns="urn:nato:stanag:4774:confidentialitymetadatalabel:1:0">'
		echo "<PolicyIdentifier>$pol</PolicyIdentifier><sclr:ClassificationList>"
		echo "$cls" | tr ',' '\n' | while read -r c; do
			printf '<Classification>%s</Classification>' "$c"
		done
		echo '</sclr:ClassificationList>'
		for c in "$@"; do
			ty=${c%%:*} rest=${c#*:}
			tag=${rest%%:*} vals=${rest#*:}
			printf '<Category Type="%s" TagName="%s">' "$ty" "$tag"
			echo "$vals" | tr ',' '\n' | while read -r v; do
				printf '<GenericValue>%s</GenericValue>' "$v"
			done
			echo '</Category>'
		done
		echo '</sclr:ConfidentialityClearance>'
	} >"$T/$f"
}

# expect NAME RC PATTERN -- liaisonctl args...: the exit code is RC and
# the output matches the grep -E PATTERN.
expect() {
	name=$1 rc=$2 pat=$3
	shift 4
	out=$("$CTL" label "$@" 2>&1)
	got=$?
	if [ "$got" -eq "$rc" ] && printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		pass=$((pass + 1))
		echo "PASS $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $got (want $rc), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

P="--spif $NATO $ZO"
CTX='PERMISSIVE:Context:NATO'

# --- validity, NOTES §3.2 -------------------------------------------------
lbl ok.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:SWE,FIN' 'RESTRICTIVE:Additional Sensitivity:CRYPTO'
expect valid-ok 0 '^VALID$' -- validate $P --label "$T/ok.xml"
lbl lc.xml demo-nato SECRET "$CTX"
expect policy-name-case-insensitive 0 '^VALID$' -- validate $P --label "$T/lc.xml"
lbl r1.xml NOPE SECRET
expect rule1-unknown-policy 1 '^INVALID: rule 3.2.1' -- validate $P --label "$T/r1.xml"
sed 's|<PolicyIdentifier>|<PolicyIdentifier URI="urn:oid:1.2.3">|' "$T/ok.xml" >"$T/r1b.xml"
expect rule1-policy-uri 1 '^INVALID: rule 3.2.1.*URI' -- validate $P --label "$T/r1b.xml"
lbl r2.xml DEMO-NATO SUPERSECRET
expect rule2-unknown-class 1 '^INVALID: rule 3.2.2' -- validate $P --label "$T/r2.xml"
lbl r3a.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Colour:RED'
expect rule3-unknown-tagset 1 '^INVALID: rule 3.2.3.*Colour' -- validate $P --label "$T/r3a.xml"
lbl r3b.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Additional Sensitivity:CRYPTO'
expect rule3-wrong-type 1 '^INVALID: rule 3.2.3.*no PERMISSIVE tag' -- validate $P --label "$T/r3b.xml"
lbl r3c.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:ATLANTIS'
expect rule3-unknown-value 1 "^INVALID: rule 3.2.3: 'ATLANTIS'" -- validate $P --label "$T/r3c.xml"
lbl r3d.xml DEMO-NATO SECRET "$CTX" 'RESTRICTIVE:Additional Sensitivity:BOHEMIA'
expect rule3-obsolete-value 1 '^INVALID: rule 3.2.3.*obsolete' -- validate $P --label "$T/r3d.xml"
lbl r4a.xml DEMO-NATO RESTRICTED 'RESTRICTIVE:Additional Sensitivity:CRYPTO'
expect rule4-excluded-class 1 "^INVALID: rule 3.2.4: 'CRYPTO'.*not allowed with RESTRICTED" -- validate $P --label "$T/r4a.xml"
lbl r4b.xml DEMO-NATO RESTRICTED 'PERMISSIVE:Context:NATO,Releasable'
expect rule4-required-category 1 '^INVALID: rule 3.2.4.*requires one or more of Releasable To' -- validate $P --label "$T/r4b.xml"
lbl r4c.xml DEMO-NATO RESTRICTED 'PERMISSIVE:Context:NATO,Releasable' 'PERMISSIVE:Releasable To:SWE' 'INFORMATIVE:Administrative:MEDICAL'
expect rule4-excluded-category 1 '^INVALID: rule 3.2.4.*excludes Administrative' -- validate $P --label "$T/r4c.xml"
lbl r4d.xml ZORIA SECRET 'PERMISSIVE:Distribution:NATO' 'RESTRICTIVE:Special Handling:NATIONAL ONLY'
expect rule4-excluded-category-zoria 1 '^INVALID: rule 3.2.4.*excludes Distribution' -- validate $P --label "$T/r4d.xml"
lbl r5.xml DEMO-NATO SECRET 'PERMISSIVE:Releasable To:SWE'
expect rule5-class-required-category 1 '^INVALID: rule 3.2.5.*classification SECRET requires' -- validate $P --label "$T/r5.xml"
lbl r6.xml DEMO-NATO RESTRICTED 'INFORMATIVE:Administrative:STAFF,MEDICAL'
expect rule6-single-selection 1 '^INVALID: rule 3.2.6.*single selection' -- validate $P --label "$T/r6.xml"
sed 's|<CreationDateTime>[^<]*</CreationDateTime>||' "$T/ok.xml" >"$T/r7a.xml"
expect rule7-no-creation 1 '^INVALID: rule 3.2.7: CreationDateTime' -- validate $P --label "$T/r7a.xml"
expect rule7-lenient 0 '^VALID$' -- validate $P --label "$T/r7a.xml" --lenient
sed 's| ReviewDateTime="[^"]*"||' "$T/ok.xml" >"$T/r7b.xml"
expect rule7-no-review 1 '^INVALID: rule 3.2.7: ReviewDateTime' -- validate $P --label "$T/r7b.xml"
sed 's|<GenericValue>CRYPTO</GenericValue>|<IntegerValue>1</IntegerValue>|' "$T/ok.xml" >"$T/r7c.xml"
expect rule7-integer-value 1 '^INVALID: rule 3.2.7: IntegerValue' -- validate $P --label "$T/r7c.xml"

# --- access decision, NOTES §3.3 ------------------------------------------
clr c-full.xml DEMO-NATO UNCLASSIFIED,RESTRICTED,CONFIDENTIAL,SECRET "$CTX" 'PERMISSIVE:Releasable To:SWE' 'RESTRICTIVE:Additional Sensitivity:CRYPTO,ATOMAL'
clr c-conf.xml DEMO-NATO UNCLASSIFIED,RESTRICTED,CONFIDENTIAL "$CTX" 'PERMISSIVE:Releasable To:SWE' 'RESTRICTIVE:Additional Sensitivity:CRYPTO'
clr c-nocrypto.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:SWE,FIN'
clr c-xzo.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:XZO' 'RESTRICTIVE:Additional Sensitivity:CRYPTO'
clr c-noctx.xml DEMO-NATO SECRET 'PERMISSIVE:Releasable To:SWE' 'RESTRICTIVE:Additional Sensitivity:CRYPTO'
expect acdf-grant 0 '^GRANT$' -- check $P --label "$T/ok.xml" --clearance "$T/c-full.xml"
expect acdf-class-membership 1 '^DENY: rule 3.3.2: classification SECRET' -- check $P --label "$T/ok.xml" --clearance "$T/c-conf.xml"
expect acdf-restrictive-missing 1 "^DENY: rule 3.3.3: restrictive value 'CRYPTO'" -- check $P --label "$T/ok.xml" --clearance "$T/c-nocrypto.xml"
lbl two.xml DEMO-NATO SECRET "$CTX" 'RESTRICTIVE:Additional Sensitivity:CRYPTO,ATOMAL'
expect acdf-restrictive-all-of-deny 1 "^DENY: rule 3.3.3: restrictive value 'ATOMAL'" -- check $P --label "$T/two.xml" --clearance "$T/c-xzo.xml"
expect acdf-restrictive-all-of-grant 0 '^GRANT$' -- check $P --label "$T/two.xml" --clearance "$T/c-full.xml"
expect acdf-permissive-per-tagset 1 "^DENY: rule 3.3.4: no permissive value of 'Releasable To'" -- check $P --label "$T/ok.xml" --clearance "$T/c-xzo.xml"
expect acdf-permissive-other-tagset 1 "^DENY: rule 3.3.4: no permissive value of 'Context'" -- check $P --label "$T/ok.xml" --clearance "$T/c-noctx.xml"
lbl info.xml DEMO-NATO SECRET "$CTX" 'INFORMATIVE:Administrative:STAFF'
expect acdf-informative-ignored 0 '^GRANT$' -- check $P --label "$T/info.xml" --clearance "$T/c-nocrypto.xml"
expect acdf-invalid-label 1 '^DENY: rule 3.2.4' -- check $P --label "$T/r4a.xml" --clearance "$T/c-full.xml"
lbl zo.xml ZORIA SECRET 'PERMISSIVE:Distribution:ZORIA,NATO' 'RESTRICTIVE:Special Handling:CIPHER'
expect acdf-via-equivalence 0 '^GRANT$' -- check $P --label "$T/zo.xml" --clearance "$T/c-xzo.xml"
expect acdf-via-equivalence-deny 1 "^DENY: rule 3.3.4: no permissive value of 'Releasable To'" -- check $P --label "$T/zo.xml" --clearance "$T/c-full.xml"
lbl zo-nat.xml ZORIA SECRET 'PERMISSIVE:Distribution:ZORIA' 'RESTRICTIVE:Special Handling:NATIONAL ONLY'
expect acdf-no-equivalent 1 '^DENY: rule 3.3.1: no label in policy DEMO-NATO.*NATIONAL ONLY' -- check $P --label "$T/zo-nat.xml" --clearance "$T/c-full.xml"

# --- markings -------------------------------------------------------------
expect mark-demo-nato 0 '^DEMO-NATO SECRET CRYPTO Releasable to Finland, Sweden$' -- mark $P --label "$T/ok.xml"
lbl ts.xml DEMO-NATO "TOP SECRET" "$CTX"
expect mark-replace-policy 0 '^COSMIC TOP SECRET$' -- mark $P --label "$T/ts.xml"
expect mark-zoria-en 0 '^ZORIA SECRET Distribution: ZORIA, NATO CIPHER$' -- mark $P --label "$T/zo.xml"
expect mark-zoria-uk 0 '^ЗОРІЯ ТАЄМНО Розповсюдження: ЗОРІЯ, НАТО ШИФР$' -- mark $P --label "$T/zo.xml" --lang uk
expect mark-json 0 '^\{"marking":"DEMO-NATO SECRET CRYPTO Releasable to Finland, Sweden","fgcolor":"white","bgcolor":"red","policy":"DEMO-NATO"\}$' -- mark $P --label "$T/ok.xml" --json

# --- mapping both ways, §1.7 ----------------------------------------------
lbl n2z.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:XZO,NATO' 'RESTRICTIVE:Additional Sensitivity:CRYPTO'
expect map-nato-to-zoria 0 '<alternativeConfidentialityLabel.*<PolicyIdentifier URI=.urn:oid:2.25.314159265358979323846264338327950288.>ZORIA</PolicyIdentifier><Classification>TOP SECRET</Classification>' -- map $P --label "$T/n2z.xml" --to ZORIA
expect map-keeps-originator 0 '<originatorConfidentialityLabel[^>]*><ConfidentialityInformation><PolicyIdentifier>DEMO-NATO</PolicyIdentifier><Classification>SECRET</Classification>' -- map $P --label "$T/n2z.xml" --to ZORIA
"$CTL" label map $P --label "$T/n2z.xml" --to ZORIA >"$T/n2z-bdo.xml"
expect map-result-marks-uk 0 '^ЗОРІЯ ЦІЛКОМ ТАЄМНО' -- mark --spif "$ZO" "$NATO" --label "$T/n2z-bdo.xml" --lang uk
# Without the originator's policy the alternative cannot be checked
# against it, so it is not used (NOTES §1.7: only an equivalent counts).
expect alt-unverifiable-not-marked 1 "^INVALID: rule 3.2.1: policy 'DEMO-NATO' is not known" -- mark --spif "$ZO" --label "$T/n2z-bdo.xml"
# An XEP-0258 securitylabel carrying a 4778 BindingInformation in <label>.
{ printf '<securitylabel xmlns="urn:xmpp:sec-label:0"><displaymarking>x</displaymarking><label>'
  cat "$T/n2z-bdo.xml"; printf '</label></securitylabel>'; } >"$T/sl-bdo.xml"
expect seclabel-with-bdo 0 '^VALID$' -- validate $P --label "$T/sl-bdo.xml"
expect seclabel-with-bdo-marks 0 '^ЗОРІЯ ЦІЛКОМ ТАЄМНО' -- mark --spif "$ZO" "$NATO" --label "$T/sl-bdo.xml" --lang uk
expect map-zoria-to-nato 0 '<Classification>SECRET</Classification><Category Type=.RESTRICTIVE. TagName=.Additional Sensitivity.[^>]*><GenericValue>CRYPTO</GenericValue></Category><Category Type=.PERMISSIVE. TagName=.Releasable To.[^>]*><GenericValue>XZO</GenericValue><GenericValue>NATO</GenericValue></Category><Category Type=.PERMISSIVE. TagName=.Context.[^>]*><GenericValue>NATO</GenericValue>' -- map $P --label "$T/zo.xml" --to DEMO-NATO
expect map-no-equivalent 1 "^UNMAPPED: restrictive value 'NATIONAL ONLY'" -- map $P --label "$T/zo-nat.xml" --to DEMO-NATO
lbl n-atomal.xml DEMO-NATO SECRET "$CTX" 'RESTRICTIVE:Additional Sensitivity:ATOMAL'
expect map-restrictive-unmapped 1 "^UNMAPPED: restrictive value 'ATOMAL'" -- map $P --label "$T/n-atomal.xml" --to ZORIA
lbl n-swe.xml DEMO-NATO CONFIDENTIAL 'PERMISSIVE:Releasable To:SWE'
expect map-permissive-none-maps 1 "^UNMAPPED: no permissive value of 'Releasable To'" -- map $P --label "$T/n-swe.xml" --to ZORIA

# --- dominance ------------------------------------------------------------
lbl d1.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:SWE,FIN' 'RESTRICTIVE:Additional Sensitivity:CRYPTO'
lbl d2.xml DEMO-NATO CONFIDENTIAL "$CTX" 'PERMISSIVE:Releasable To:SWE,XZO' 'INFORMATIVE:Administrative:STAFF'
lbl d3.xml DEMO-NATO RESTRICTED 'RESTRICTIVE:Additional Sensitivity:ATOMAL'
expect dominant-class-and-intersection 0 '<Classification>SECRET</Classification><Category Type=.RESTRICTIVE. TagName=.Additional Sensitivity.[^>]*><GenericValue>CRYPTO</GenericValue></Category><Category Type=.PERMISSIVE. TagName=.Releasable To.[^>]*><GenericValue>SWE</GenericValue></Category><Category Type=.INFORMATIVE. TagName=.Administrative.[^>]*><GenericValue>STAFF</GenericValue></Category><Category Type=.PERMISSIVE. TagName=.Context.[^>]*><GenericValue>NATO</GenericValue></Category>' -- dominant $P --label "$T/d1.xml" "$T/d2.xml"
expect dominant-permissive-absent-dropped 1 '^INVALID: dominant label is not valid.*rule 3.2.5' -- dominant $P --label "$T/d1.xml" "$T/d3.xml"
expect dominant-across-policies 0 '<PolicyIdentifier[^>]*>DEMO-NATO</PolicyIdentifier><Classification>SECRET</Classification><Category Type=.RESTRICTIVE. TagName=.Additional Sensitivity.[^>]*><GenericValue>CRYPTO</GenericValue></Category>' -- dominant $P --label "$T/ok.xml" "$T/zo.xml"

# --- malformed input: exit 2, one line naming the file and position ------
printf '<originatorConfidentialityLabel xmlns="urn:nato:stanag:4774:confidentialitymetadatalabel:1:0">\n<oops>' >"$T/bad.xml"
expect malformed-xml 2 "^$T/bad.xml: line [0-9]+, column [0-9]+: " -- validate $P --label "$T/bad.xml"
sed 's|TagName="Context"||' "$T/ok.xml" >"$T/bad2.xml"
expect malformed-category 2 "^$T/bad2.xml: Category: missing attribute TagName$" -- validate $P --label "$T/bad2.xml"
printf '<SPIF xmlns="http://www.xmlspif.org/spif"><securityPolicyId name="X" id="1.2"/></SPIF>' >"$T/bad-spif.xml"
expect malformed-spif 2 "^$T/bad-spif.xml: SPIF: missing securityClassifications$" -- validate --spif "$T/bad-spif.xml" --label "$T/ok.xml"
expect malformed-clearance 2 "^$T/ok.xml: element .* is not a STANAG 4774 clearance$" -- check $P --label "$T/ok.xml" --clearance "$T/ok.xml"
expect duplicate-policy 2 'loaded twice' -- validate --spif "$NATO" "$NATO" --label "$T/ok.xml"

# --- repeated values: invalid (rule 3.2.3), not merged --------------------
lbl dup1.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:SWE,SWE'
expect dup-value-invalid 1 "^INVALID: rule 3.2.3: 'SWE' is given more than once in tag set 'Releasable To'$" -- validate $P --label "$T/dup1.xml"
expect dup-value-check-deny 1 "^DENY: rule 3.2.3: 'SWE' is given more than once" -- check $P --label "$T/dup1.xml" --clearance "$T/c-full.xml"
lbl dup2.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:SWE' 'PERMISSIVE:Releasable To:FIN,SWE'
expect dup-across-category-elements 1 "^INVALID: rule 3.2.3: 'SWE' is given more than once" -- validate $P --label "$T/dup2.xml"
lbl dup3.xml DEMO-NATO UNCLASSIFIED 'PERMISSIVE:Context:NATO,NATO,NATO,NATO'
expect dup-many-unclassified 1 "^INVALID: rule 3.2.3: 'NATO' is given more than once in tag set 'Context'" -- validate $P --label "$T/dup3.xml"

# --- alternative labels: only the originator's equivalent counts, §1.7 ---
# sec.xml is DEMO-NATO SECRET; its ZORIA equivalent is TOP SECRET.  A
# clearance holding only ZORIA UNCLASSIFIED must not read it through an
# alternative label that says ZORIA UNCLASSIFIED.
lbl sec.xml DEMO-NATO SECRET "$CTX" 'PERMISSIVE:Releasable To:XZO,NATO'
lbl zu.xml ZORIA UNCLASSIFIED 'PERMISSIVE:Distribution:ZORIA'
lbl zts.xml ZORIA "TOP SECRET" 'PERMISSIVE:Distribution:ZORIA'
clr c-zu.xml ZORIA UNCLASSIFIED 'PERMISSIVE:Distribution:ZORIA'
clr c-zall.xml ZORIA "UNCLASSIFIED,OFFICIAL USE,SECRET,TOP SECRET" 'PERMISSIVE:Distribution:ZORIA'
toalt() { sed 's/originatorConfidentialityLabel/alternativeConfidentialityLabel/g' "$T/$1"; }
# seclabel OUT ORIG [ALT...]: a securitylabel with equivalentlabels.
seclabel() {
	out=$1 orig=$2
	shift 2
	{ printf '<securitylabel xmlns="urn:xmpp:sec-label:0"><label>'
	  cat "$T/$orig"; printf '</label>'
	  for a in "$@"; do
		printf '<equivalentlabel>'; toalt "$a"; printf '</equivalentlabel>'
	  done
	  printf '</securitylabel>'; } >"$T/$out"
}
seclabel forged.xml sec.xml zu.xml
expect alt-plain-deny 1 '^DENY: rule 3.3.2: classification TOP SECRET is not in the clearance' -- check $P --label "$T/sec.xml" --clearance "$T/c-zu.xml"
expect alt-forged-lower-deny 1 '^DENY: alternative label is not the equivalent of the label: classification UNCLASSIFIED in ZORIA, the equivalent is TOP SECRET$' -- check $P --label "$T/forged.xml" --clearance "$T/c-zu.xml"
expect alt-forged-lower-invalid 1 '^INVALID: alternative label is not the equivalent of the label: classification UNCLASSIFIED' -- validate $P --label "$T/forged.xml"
# The forgery spoils the label for every clearance, not only in ZORIA.
expect alt-forged-deny-in-nato 1 '^DENY: alternative label is not the equivalent' -- check $P --label "$T/forged.xml" --clearance "$T/c-full.xml"
expect alt-forged-not-marked 1 '^INVALID: alternative label is not the equivalent' -- mark --spif "$ZO" "$NATO" --label "$T/forged.xml"
# The same forgery inside a 4778 BindingInformation.
{ printf '<BindingInformation xmlns="urn:nato:stanag:4778:bindinginformation:1:0"><MetadataBindingContainer><MetadataBinding><Metadata>'
  cat "$T/sec.xml"; printf '</Metadata><Metadata>'; toalt zu.xml
  printf '</Metadata><DataReference URI=""/></MetadataBinding></MetadataBindingContainer></BindingInformation>'; } >"$T/forged-bdo.xml"
expect alt-forged-bdo-deny 1 '^DENY: alternative label is not the equivalent' -- check $P --label "$T/forged-bdo.xml" --clearance "$T/c-zu.xml"
expect alt-forged-not-mapped-over 1 '^UNMAPPED: alternative label is not the equivalent' -- map $P --label "$T/forged.xml" --to ZORIA
# Higher classification but other categories: contradicting, refused too.
seclabel forged2.xml sec.xml zts.xml
expect alt-contradicting-categories 1 '^INVALID: alternative label is not the equivalent of the label: its categories in ZORIA differ' -- validate $P --label "$T/forged2.xml"
# An alternative for a label with no equivalent at all.
seclabel forged3.xml zo-nat.xml ok.xml
expect alt-without-equivalent 1 "^INVALID: alternative label in DEMO-NATO, but the label has no equivalent there: restrictive value 'NATIONAL ONLY'" -- validate $P --label "$T/forged3.xml"
# The honest alternative (liaisonctl label map's) is valid and decides as
# the originator does.
"$CTL" label map $P --label "$T/sec.xml" --to ZORIA | sed 's|.*<Metadata><alternative|<alternative|; s|</alternativeConfidentialityLabel>.*|</alternativeConfidentialityLabel>|' >"$T/sec-zo-alt.xml"
{ printf '<securitylabel xmlns="urn:xmpp:sec-label:0"><label>'; cat "$T/sec.xml"
  printf '</label><equivalentlabel>'; cat "$T/sec-zo-alt.xml"; printf '</equivalentlabel></securitylabel>'; } >"$T/honest.xml"
expect alt-honest-valid 0 '^VALID$' -- validate $P --label "$T/honest.xml"
expect alt-honest-deny-as-originator 1 '^DENY: rule 3.3.2: classification TOP SECRET is not in the clearance' -- check $P --label "$T/honest.xml" --clearance "$T/c-zu.xml"
clr c-zts.xml ZORIA "TOP SECRET" 'PERMISSIVE:Distribution:NATO'
expect alt-honest-grant 0 '^GRANT$' -- check $P --label "$T/honest.xml" --clearance "$T/c-zts.xml"
expect alt-policy-not-loaded 1 "^INVALID: alternative label: policy 'ZORIA' is not known, so it cannot be checked" -- validate --spif "$NATO" --label "$T/honest.xml"
{ printf '<securitylabel xmlns="urn:xmpp:sec-label:0"><label>'; cat "$T/sec.xml"
  printf '</label><equivalentlabel>'; cat "$T/sec-zo-alt.xml"; printf '</equivalentlabel><equivalentlabel>'
  cat "$T/sec-zo-alt.xml"; printf '</equivalentlabel></securitylabel>'; } >"$T/twoalt.xml"
expect alt-two-in-one-policy 1 '^INVALID: two alternative labels in policy ZORIA$' -- validate $P --label "$T/twoalt.xml"
seclabel alt-same-policy.xml sec.xml ok.xml
expect alt-in-originator-policy 1 "^INVALID: alternative label in the originator label's policy DEMO-NATO$" -- validate $P --label "$T/alt-same-policy.xml"

# --- XEP-0258 securitylabel shapes: exactly one well-formed label --------
# shape NAME 'INNER' PATTERN: a securitylabel with INNER children, whose
# parse fails (exit 2) with the reason PATTERN.
L=$(cat "$T/ok.xml")
shape() {
	printf '<securitylabel xmlns="urn:xmpp:sec-label:0">%s</securitylabel>' "$2" >"$T/shape-$1.xml"
	expect "seclabel-$1" 2 "^$T/shape-$1.xml: $3\$" -- validate $P --label "$T/shape-$1.xml"
}
shape label-text '<label>!!garbage&amp;x</label>' 'securitylabel: <label> holds text'
shape label-mixed "<label>x$L</label>" 'securitylabel: <label> holds text'
shape label-two "<label>$L$L</label>" 'securitylabel: <label> holds more than one element'
shape two-labels "<label>$L</label><label>$L</label>" 'securitylabel: more than one <label>'
shape no-label '<displaymarking>SECRET</displaymarking>' 'securitylabel: no <label>'
shape unknown-child "<label>$L</label><x xmlns='urn:example'/>" 'securitylabel: unexpected element \{urn:example\}x'
shape text-outside "oops<label>$L</label>" 'securitylabel: holds text'
shape two-markings "<displaymarking>A</displaymarking><displaymarking>B</displaymarking><label>$L</label>" 'securitylabel: more than one displaymarking'
shape marking-element "<displaymarking><b xmlns='urn:example'/></displaymarking><label>$L</label>" 'securitylabel: displaymarking holds an element'
shape empty-label '<label/>' 'securitylabel: empty <label> \(the default label of a server\)'
shape empty-label-equivalent "<label/><equivalentlabel>$(toalt zu.xml)</equivalentlabel>" 'securitylabel: <equivalentlabel> with an empty <label>'
shape not-4774 "<label><x xmlns='urn:example:not-a-label'>SECRET</x></label>" 'securitylabel: <label> holds \{urn:example:not-a-label\}x, not a STANAG 4774 originator label'
shape alternative-in-label "<label>$(toalt zu.xml)</label>" 'securitylabel: <label> holds .*alternativeConfidentialityLabel, not a STANAG 4774 originator label'
shape originator-as-equivalent "<label>$L</label><equivalentlabel>$L</equivalentlabel>" 'securitylabel: <equivalentlabel> holds originatorConfidentialityLabel, not one alternativeConfidentialityLabel'
shape equivalent-empty "<label>$L</label><equivalentlabel/>" 'securitylabel: <equivalentlabel> holds nothing, not one alternativeConfidentialityLabel'

# --- SuccessionHandling survives writing (the server rebuilds labels) ----
sed 's| ReviewDateTime="[^"]*"||; s|</CreationDateTime>|</CreationDateTime><SuccessionHandling><SuccessionDateTime>2030-01-01T00:00:00Z</SuccessionDateTime><SuccessorConfidentialityLabel><ConfidentialityInformation><PolicyIdentifier>DEMO-NATO</PolicyIdentifier><Classification>CONFIDENTIAL</Classification><Category Type="PERMISSIVE" TagName="Context"><GenericValue>NATO</GenericValue></Category></ConfidentialityInformation><CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime></SuccessorConfidentialityLabel></SuccessionHandling>|' "$T/ok.xml" >"$T/succ.xml"
expect succession-valid 0 '^VALID$' -- validate $P --label "$T/succ.xml"
sed 's| ReviewDateTime="[^"]*"||; s|</CreationDateTime>|</CreationDateTime><SuccessionHandling><SuccessionDateTime>2030-01-01T00:00:00Z</SuccessionDateTime><SuccessorConfidentialityLabel><ConfidentialityInformation><PolicyIdentifier>DEMO-NATO</PolicyIdentifier><Classification>UNCLASSIFIED</Classification></ConfidentialityInformation><CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime></SuccessorConfidentialityLabel></SuccessionHandling>|' "$T/sec.xml" >"$T/succ2.xml"
expect succession-mapped-keeps-it 0 '<alternativeConfidentialityLabel.*<SuccessionHandling><SuccessionDateTime>2030-01-01T00:00:00Z</SuccessionDateTime><SuccessorConfidentialityLabel><ConfidentialityInformation><PolicyIdentifier>DEMO-NATO</PolicyIdentifier><Classification>UNCLASSIFIED</Classification>' -- map $P --label "$T/succ2.xml" --to ZORIA
"$CTL" label map $P --label "$T/succ2.xml" --to ZORIA >"$T/succ2-bdo.xml"
expect succession-mapped-valid 0 '^VALID$' -- validate $P --label "$T/succ2-bdo.xml"
sed 's|<Classification>CONFIDENTIAL</Classification>|<Classification>SUPERSECRET</Classification>|' "$T/succ.xml" >"$T/succ-bad.xml"
expect succession-successor-validated 1 "^INVALID: SuccessorConfidentialityLabel: rule 3.2.2: classification 'SUPERSECRET'" -- validate $P --label "$T/succ-bad.xml"
sed 's|<SuccessionDateTime>2030-01-01T00:00:00Z</SuccessionDateTime>||' "$T/succ.xml" >"$T/succ-notime.xml"
expect succession-needs-time 2 "^$T/succ-notime.xml: SuccessionHandling: missing SuccessionDateTime\$" -- validate $P --label "$T/succ-notime.xml"

# --- the public NATO SPIF: case-insensitive values, BindingInformation ---
NSPIF=$DATA/spif/spiffing-NATO-policy-v79-schema2.1.xml
if [ -n "$DATA" ] && [ -r "$NSPIF" ]; then
	lbl nl.xml nato secret 'PERMISSIVE:context:nato'
	expect nato-case-insensitive 0 '^VALID$' -- validate --spif "$NSPIF" --label "$T/nl.xml"
	expect nato-case-insensitive-mark 0 '^NATO SECRET$' -- mark --spif "$NSPIF" --label "$T/nl.xml"
	"$CTL" label map $P --label "$T/n2z.xml" --to ZORIA >"$T/bdo.xml"
	expect bdo-validate 0 '^VALID$' -- validate $P --label "$T/bdo.xml"
	lbl zcase.xml ZORIA secret 'PERMISSIVE:Distribution:ZORIA'
	expect non-nato-case-sensitive 1 "^INVALID: rule 3.2.2: classification 'secret'" -- validate $P --label "$T/zcase.xml"
fi

echo "label cases: $pass pass, $fail fail"
[ "$fail" -eq 0 ]
