# SPDX-License-Identifier: Apache-2.0
# fish completion for cedana. A thin wrapper: the candidates come from `cedana __complete`,
# which derives them from the CLI's own verb and option tables, so nothing is listed here.

function __cedana_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out ($tokens[1] __complete $tokens[2..-1] "$current" 2>/dev/null)
    # "--dir=/tm": complete the part after "=" and keep the option in front.
    set -l prefix ""
    set -l value $current
    if string match -q -- '--*=*' $current
        set prefix (string replace -r '=.*' '=' -- $current)
        set value (string replace -r '^[^=]*=' '' -- $current)
    end
    switch "$out[1]"
        case __files__
            printf '%s\n' $prefix(__fish_complete_path $value)
        case __dirs__
            printf '%s\n' $prefix(__fish_complete_directories $value)
        case __commands__
            __fish_complete_command
        case '*'
            printf '%s\n' $out
    end
end

complete -c cedana -f -a '(__cedana_complete)'
