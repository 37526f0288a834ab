#!/usr/bin/env bash
# Renders a labelled answering-machine-detection corpus with real (synthetic
# TTS) voices: human openings ("Hello?", "Hello, who is this?", ...) and
# voicemail greetings, in varied espeak-ng voices, speeds and pitches, with a
# random lead silence, line noise mixed in by sox, and for most machines a
# beep (1000/1400 Hz or others) after the greeting. Every clip is 8 s (CLIP_SECONDS),
# 8 kHz mono PCM16 WAV, named human_<scenario>_<n>.wav or
# machine_<scenario>_<n>.wav.
#
#   apt-get install -y espeak-ng sox
#   bash shared/media/tools/gen_amd_corpus.sh [OUT_DIR] [PER_CLASS] [SEED]
#   cargo run -p voxdial-media --example amd_eval --release -- --corpus OUT_DIR
#
# OUT_DIR defaults to shared/media/corpus/amd (git-ignored; never commit the
# audio). PER_CLASS defaults to 100 (so 200 clips), SEED to 42.
set -euo pipefail

command -v espeak-ng >/dev/null || { echo "espeak-ng missing: apt-get install -y espeak-ng" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox missing: apt-get install -y sox" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../corpus/amd"}
per_class=${2:-100}
RANDOM=${3:-42}
secs=${CLIP_SECONDS:-8}
mkdir -p "$out"
rm -f "$out"/human_*.wav "$out"/machine_*.wav
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

voices=(en-us en-us+f2 en-us+f3 en-us+f4 en-us+m3 en-us+m7 en-gb en-gb+f3 en-gb-x-rp+m2 en-029+f1 en-us-nyc en-gb-scotland+f5)

human_short=("Hello?" "Hello." "Yes?" "Hi." "Yeah?" "Hello hello?" "Speaking." "Hi there." "Yes, hello?")
human_long=("Hello, who is this?" "Hello, who's calling?" "Yeah, hello, this is Mark." "Hi, this is Priya." "Good morning, Sarah speaking." "Hello? Yes, who is it?" "Hello, Jones residence.")
machine_text=(
  "Hi, you've reached John Smith. I can't take your call right now. Please leave a message after the tone."
  "The person you are calling is not available. Please leave your message after the beep."
  "Hello, you have reached the voicemail of Doctor Patel's office. Our hours are nine to five, Monday through Friday. Please leave a message."
  "You have reached five five five, zero one two three. Please leave a message after the tone."
  "Hey, it's Jenny! I'm not around right now, leave me a message and I'll call you back."
  "Thank you for calling. No one is available to take your call. Please record your message after the tone."
  "Hi, this is Mike. Sorry I missed you. Leave your name and number and I will get back to you as soon as I can."
  "The subscriber you have dialled is not available. Please try again later, or leave a message after the beep."
  "Hello. You've reached the Garcia family. We can't come to the phone right now, please leave a message."
  "Welcome to the voice mailbox of Anna Lee. Please leave a detailed message and I will return your call."
)

rnd() { # rnd LO HI -> integer in [LO, HI]
  echo $(( $1 + RANDOM % ($2 - $1 + 1) ))
}
ms_to_s() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }

render() { # render TEXT OUT.wav : voice, speed, pitch from globals; level in dB
  espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp/raw.wav" "$1"
  sox "$tmp/raw.wav" -r 8000 -c 1 -b 16 "$2" highpass 120 lowpass 3400 \
    silence 1 0.01 -45d reverse silence 1 0.01 -45d reverse gain -n "-$level"
}

silence() { # silence MS OUT.wav
  sox -n -r 8000 -c 1 -b 16 "$2" trim 0 "$(ms_to_s "$1")"
}

finish() { # finish OUT.wav PARTS... : concatenate, pad/trim to $secs, add noise
  local dst=$1; shift
  sox -V1 "$@" "$tmp/clean.wav" pad 0 "$secs" trim 0 "$secs"
  local noise_db
  if (( RANDOM % 4 == 0 )); then noise_db=$(rnd 36 45); else noise_db=$(rnd 50 65); fi
  sox -n -r 8000 -c 1 -b 16 "$tmp/noise.wav" synth "$secs" pinknoise gain -n "-$noise_db"
  sox -m "$tmp/clean.wav" "$tmp/noise.wav" -b 16 "$dst"
}

pick_voice() {
  voice=${voices[RANDOM % ${#voices[@]}]}
  speed=$(rnd 135 195)
  pitch=$(rnd 30 70)
  level=$(rnd 6 18)
}

for ((i = 0; i < per_class; i++)); do
  pick_voice
  lead=$(rnd 150 1200)
  silence "$lead" "$tmp/lead.wav"
  case $(( i % 5 )) in
    0|1)
      render "${human_short[RANDOM % ${#human_short[@]}]}" "$tmp/s1.wav"
      finish "$out/human_hello_$i.wav" "$tmp/lead.wav" "$tmp/s1.wav" ;;
    2|3)
      render "${human_long[RANDOM % ${#human_long[@]}]}" "$tmp/s1.wav"
      finish "$out/human_long-hello_$i.wav" "$tmp/lead.wav" "$tmp/s1.wav" ;;
    4)
      render "Hello?" "$tmp/s1.wav"
      silence "$(rnd 1000 1600)" "$tmp/gap.wav"
      render "${human_short[RANDOM % ${#human_short[@]}]}" "$tmp/s2.wav"
      finish "$out/human_hello-hello_$i.wav" "$tmp/lead.wav" "$tmp/s1.wav" "$tmp/gap.wav" "$tmp/s2.wav" ;;
  esac
done

beeps=(1000 1400 1000 850 440 1900)
for ((i = 0; i < per_class; i++)); do
  pick_voice
  lead=$(rnd 100 1000)
  silence "$lead" "$tmp/lead.wav"
  render "${machine_text[RANDOM % ${#machine_text[@]}]}" "$tmp/s1.wav"
  if (( i % 4 == 3 )); then
    finish "$out/machine_greeting-no-beep_$i.wav" "$tmp/lead.wav" "$tmp/s1.wav"
  else
    silence "$(rnd 200 600)" "$tmp/gap.wav"
    freq=${beeps[RANDOM % ${#beeps[@]}]}
    dur=$(rnd 150 700)
    sox -n -r 8000 -c 1 -b 16 "$tmp/beep.wav" synth "$(ms_to_s "$dur")" sine "$freq" gain -n "-$(( level - 3 ))" fade 0.005 "$(ms_to_s "$dur")" 0.005
    finish "$out/machine_greeting-beep_$i.wav" "$tmp/lead.wav" "$tmp/s1.wav" "$tmp/gap.wav" "$tmp/beep.wav"
  fi
done
echo "wrote $(ls "$out" | wc -l) clips to $out"
