# Shared setup of the encrypt/decrypt scripts (sourced after check.bash, inside $WORK):
# two passwords, keys (two names, and a second key of the same name), and helpers.
PW='sealing password 4e1b d0c3'
PW2='a different password 8a77'
umask 077
printf '%s\n' "$PW" >pw
printf '%s\n' "$PW2" >pw2
DATA=$TBML_SHARED/datasets
FILES=(people.json people.txt BostonHousing.csv PimaIndiansDiabetes.csv)

quiet "$TBML" keygen primary --name datakey --out keys --password-file pw
quiet "$TBML" keygen primary --name otherkey --out keys --password-file pw
quiet "$TBML" keygen primary --name datakey --out keys2 --password-file pw # same name, other key
quiet "$TBML" keygen primary --name pw2key --out keys --password-file pw2
K=(--key keys/datakey.key --password-file pw)

enc() { run "$TBML" encrypt "${K[@]}" "$@"; }
dec() { run "$TBML" decrypt "${K[@]}" "$@"; }
size_of() { stat -c %s "$1"; }
# json_field FILE FIELD: one field of inspect --json output (python if present, else sed)
json_field() {
  if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v)' "$1" "$2"
  else
    sed -E "s/.*\"$2\":(\"([^\"]*)\"|([0-9]+)).*/\\2\\3/" "$1"
  fi
}
